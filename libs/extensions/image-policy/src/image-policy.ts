import { Injectable } from '@nestjs/common';
import { EventsConfig } from '@app/config';
import { AdmissionPolicy, AdmissionRequest, CodedError } from '@app/extension-api';
import { globToRegExp, imageForms } from './image-glob';

/**
 * Admits a create (or restart) only of an image that ALLOWED_IMAGES matches (in any of its
 * spellings: `alpine`, `alpine:latest`, `docker.io/library/alpine:latest`); anything else is
 * 403 IMAGE_NOT_ALLOWED. With ALLOWED_IMAGES unset it admits every image.
 */
@Injectable()
export class ImagePolicy implements AdmissionPolicy {
  private readonly patterns: readonly RegExp[];

  constructor(private readonly config: EventsConfig) {
    this.patterns = config.allowedImages.map(globToRegExp);
  }

  admit(request: AdmissionRequest): void {
    if (this.patterns.length === 0) return;
    const forms = imageForms(request.image);
    if (this.patterns.some((pattern) => forms.some((form) => pattern.test(form)))) return;
    throw new CodedError(
      'IMAGE_NOT_ALLOWED',
      `image ${request.image} is not allowed here (ALLOWED_IMAGES: ${this.config.allowedImages.join(', ')})`,
      { image: request.image, allowed: [...this.config.allowedImages] },
    );
  }
}
