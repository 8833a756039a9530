import { SetMetadata } from '@nestjs/common';

/** The metadata key of @AdminOnly(), on a controller class or a handler. */
export const ADMIN_ONLY = 'sandboxd:admin-only';

/**
 * Marks a route (or every route of a controller) as the admin's: the global auth guard reads this
 * metadata (Reflector.getAllAndOverride(ADMIN_ONLY, [handler, class])) and refuses a tenant key
 * with 403 FORBIDDEN before the handler runs. The domain refuses a tenant actor again where it
 * matters (TenantService), so a route that lost the decorator still cannot be abused.
 */
export const AdminOnly = (): MethodDecorator & ClassDecorator => SetMetadata(ADMIN_ONLY, true);
