// The TypeScript twin of generated_tracking.send_every_event: every tracked event once with
// all its properties, and once with only what it needs, through @segment/analytics-node.
// Usage: node send_every_event.js HOST WRITE_KEY
import { Analytics } from "@segment/analytics-node";
import * as tracking from "./tracking";

async function main(host: string, writeKey: string): Promise<void> {
  const analytics = new Analytics({ writeKey, host, flushInterval: 200, maxRetries: 0 });
  analytics.on("error", (error) => {
    console.error(error);
    process.exitCode = 1;
  });
  const who = { userId: "u-2", anonymousId: "a-3" };
  tracking.userSignedUp(analytics, { ...who, orgId: "o-1", signupMethod: "email", invited: false });
  tracking.userSignedUp(analytics, { anonymousId: "a-4" });
  tracking.userLoggedIn(analytics, who);
  tracking.organizationCreated(analytics, { ...who, orgId: "o-3" });
  tracking.organizationSwitched(analytics, { userId: "u-2", orgId: "o-1" });
  tracking.projectCreated(analytics, {
    ...who,
    orgId: "o-3",
    language: "typescript",
    repository: { provider: "github", isPrivate: false },
  });
  tracking.projectCreated(analytics, { userId: "u-2", orgId: "o-3" });
  tracking.buildStarted(analytics, { ...who, orgId: "o-3", projectId: "o-3-1" });
  tracking.buildSucceeded(analytics, { ...who, orgId: "o-3", projectId: "o-3-1", durationSeconds: 41 });
  tracking.buildFailed(analytics, {
    ...who,
    orgId: "o-3",
    projectId: "o-3-1",
    durationSeconds: 7,
    failedSteps: [{ name: "compile", exitCode: 2 }],
  });
  tracking.teammateInvited(analytics, { ...who, orgId: "o-3", role: "member" });
  tracking.dashboardViewed(analytics, { userId: "u-2" });
  tracking.dashboardViewed(analytics, { userId: "u-2", orgId: "o-3" });
  tracking.planPageViewed(analytics, { ...who, orgId: "o-3" });
  tracking.planUpgradeClicked(analytics, { ...who, orgId: "o-3", planId: "team" });
  await analytics.closeAndFlush();
}

const [host, writeKey] = process.argv.slice(2);
if (host === undefined || writeKey === undefined) {
  throw new Error("usage: node send_every_event.js HOST WRITE_KEY");
}
main(host, writeKey).catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
