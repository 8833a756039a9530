export { imagePolicyExtension, ImagePolicyModule } from './image-policy.module';
export { ImagePolicy } from './image-policy';
export { globToRegExp, imageForms } from './image-glob';
