// The API's answers as the dashboard receives them: the server's own response schemas
// (functions/_shared/responses.ts and each family's responses.ts), read as JSON (Json<…>: a timestamp
// is its ISO string). One source: the services are typed by the same schemas. Types only: `import type`
// is erased, so nothing of the server (not even zod) ships in the bundle.
import type {
  Capabilities as ServerCapabilities,
  healthReportSchema,
  Json,
  logEntrySchema,
  logPageSchema,
  taskPageSchema,
  taskSchema,
} from "../../functions/_shared/responses.ts";
import type { ruleListSchema, ruleSchema, ticketDetailSchema, ticketPageSchema } from "../../functions/_shared/events/responses.ts";
import type { scheduleListSchema, scheduleRunsSchema, scheduleSchema } from "../../functions/_shared/schedules/responses.ts";
import type { sopPageSchema, sopSchema } from "../../functions/_shared/sops/responses.ts";
import type { runDetailSchema, runPageSchema, workflowListSchema } from "../../functions/_shared/workflows/responses.ts";

export type Capabilities = ServerCapabilities;
export type ApiFamily = Capabilities["apis"][number];

export type Task = Json<typeof taskSchema>;
export type TaskPage = Json<typeof taskPageSchema>;
export type LogEntry = Json<typeof logEntrySchema>;
export type LogPage = Json<typeof logPageSchema>;
export type Health = Json<typeof healthReportSchema>;

export type TicketPage = Json<typeof ticketPageSchema>;
export type Ticket = TicketPage["tickets"][number];
export type TicketDetail = Json<typeof ticketDetailSchema>;

export type RuleList = Json<typeof ruleListSchema>;
export type Rule = Json<typeof ruleSchema>;

export type ScheduleList = Json<typeof scheduleListSchema>;
export type Schedule = Json<typeof scheduleSchema>;
export type ScheduleRuns = Json<typeof scheduleRunsSchema>;

export type SopPage = Json<typeof sopPageSchema>;
export type SopSummary = SopPage["sops"][number];
export type Sop = Json<typeof sopSchema>;

export type WorkflowList = Json<typeof workflowListSchema>;
export type Workflow = WorkflowList["workflows"][number];
export type RunPage = Json<typeof runPageSchema>;
export type Run = RunPage["runs"][number];
export type RunDetail = Json<typeof runDetailSchema>;
