/** The project URL chosen at build time (DASHBOARD_PROJECT_URL); "" means the page's own origin. */
declare const __PROJECT_URL__: string;

declare module "*.css";
