import { Access } from './access.decorator';

/**
 * Marks a route (or every route of a controller) as the admin's: ApiKeyGuard refuses a tenant key
 * with 403 FORBIDDEN before the handler runs (Access('admin'); every /v1/admin route is the
 * admin's anyway). The domain refuses a tenant actor again where it matters (TenantService), so a
 * route that lost the decorator still cannot be abused.
 */
export const AdminOnly = (): MethodDecorator & ClassDecorator => Access('admin');
