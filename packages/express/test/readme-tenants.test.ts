import { readmeTenantRecipe } from '../../../test/support/readme-tenants.js';

readmeTenantRecipe(new URL('..', import.meta.url));
