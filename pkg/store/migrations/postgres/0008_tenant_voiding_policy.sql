-- Who may void a statement in this tenant: 'authority' or 'tenant'
-- (pkg/auth.VoidingPolicy); '' follows the deployment's LRS_VOIDING_POLICY.
ALTER TABLE tenants ADD COLUMN voiding_policy TEXT NOT NULL DEFAULT '';
