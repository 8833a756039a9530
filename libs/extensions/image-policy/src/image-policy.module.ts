import { Module } from '@nestjs/common';
import { defineExtension } from '@app/extension-api';
import { ImagePolicy } from './image-policy';

@Module({ providers: [ImagePolicy] })
export class ImagePolicyModule {}

/** ALLOWED_IMAGES as an admission policy: creates of other images are 403 IMAGE_NOT_ALLOWED. */
export const imagePolicyExtension = defineExtension({
  name: 'image-policy',
  module: ImagePolicyModule,
  policies: [ImagePolicy],
});
