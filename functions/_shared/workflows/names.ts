// Name patterns shared by the workflow schemas and task types (a leaf module: no imports, so no cycles).
export const WORKFLOW_NAME = /^[a-z][a-z0-9_-]{0,62}$/;
