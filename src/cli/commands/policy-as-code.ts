// latchkey plan|apply -f latchkey.yaml: the options and help. What they do (../plan-apply.ts) is
// required when one of them runs, with the YAML parser, JSON Schema checker and diff it loads.
import type { Command } from 'commander';
import { durationArg } from '../context';
import type * as PlanApply from '../plan-apply';

const planApply = () => require('../plan-apply') as typeof PlanApply;

const OVERLAP = [
  '--overlap <duration>',
  'how long a replaced token keeps working after its successor is issued (0s: revoked at once)',
  durationArg,
  'PT1H',
] as const;

export function policyAsCodeCommands(program: Command): void {
  program
    .command('plan')
    .description('show how the server differs from a policy file; exit 0 in sync, 2 changes, 1 error')
    .requiredOption('-f, --file <path>', 'the policy file, e.g. latchkey.yaml')
    .option('--prune', 'also delete what the server has and the file does not')
    .option(
      '--out <plan-file>',
      'save the plan (with the file’s content), to apply exactly it later with `latchkey apply PLAN-FILE`',
    )
    .option(...OVERLAP)
    .addHelpText(
      'after',
      '\nExamples:\n  $ latchkey plan -f latchkey.yaml\n  $ latchkey plan -f latchkey.yaml --out reviewed.plan && latchkey apply reviewed.plan\n  $ latchkey plan -f latchkey.yaml --output json | jq \'.changes[] | select(.op == "update")\'',
    )
    .action((o: PlanApply.PlanOptions, cmd: Command) => planApply().plan(o, cmd));

  program
    .command('apply [plan-file]')
    .description(
      'make the server match a policy file (or apply a saved plan), in dependency order; a second apply changes nothing',
    )
    .option('-f, --file <path>', 'the policy file, e.g. latchkey.yaml')
    .option('--prune', 'also delete what the server has and the file does not')
    .option(
      '--secrets-file <path>',
      'append the secrets of tokens it issues (and webhooks and webhook rotators it sets up) here (JSON lines, mode 0600)',
    )
    .option('-y, --yes', 'apply without asking (scripts); on a terminal apply shows the plan and asks first')
    .option(...OVERLAP)
    .option(
      '--digest <sha256:…>',
      'with a saved plan: refuse it unless its digest is this one (the one plan --out printed)',
    )
    .addHelpText(
      'after',
      '\nExamples:\n  $ latchkey apply -f latchkey.yaml\n  $ latchkey apply -f latchkey.yaml --yes --secrets-file ./new-secrets.jsonl   (in CI)\n  $ latchkey apply reviewed.plan --digest sha256:… --secrets-file ./new-secrets.jsonl   (a plan saved with plan --out)',
    )
    .action((planFile: string | undefined, o: PlanApply.ApplyOptions, cmd: Command) =>
      planApply().apply(planFile, o, cmd),
    );
}
