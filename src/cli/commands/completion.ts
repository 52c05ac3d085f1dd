// latchkey completion bash|zsh: a completion script written from the program's own commands and
// options, so it never falls behind them. Install: `source <(latchkey completion bash)`.
import type { Command } from 'commander';
import { usage } from '../errors';

/** Every command path ("tokens list") with the words that may follow it: subcommands and options. */
export function completionTable(program: Command): Map<string, string[]> {
  const table = new Map<string, string[]>();
  const flags = (cmd: Command) => cmd.options.flatMap((o) => [o.long, o.short].filter((x): x is string => !!x));
  // The program's own options (--url, --output) are taken after any command.
  const global = flags(program).filter((f) => f !== '--version' && f !== '-V');
  const walk = (cmd: Command, path: string[]) => {
    const words = [...cmd.commands.map((c) => c.name()), ...flags(cmd), ...global, '--help'];
    table.set(path.join(' '), [...new Set(words)].sort());
    for (const c of cmd.commands) walk(c, [...path, c.name()]);
  };
  walk(program, []);
  return table;
}

function bashScript(table: Map<string, string[]>): string {
  const cases = [...table]
    .filter(([path]) => path !== 'completion')
    .map(([path, words]) => `    "${path}") words="${words.join(' ')}" ;;`)
    .join('\n');
  return `# latchkey completion for bash (and zsh with bashcompinit): source <(latchkey completion bash)
_latchkey() {
  local cur path words i
  cur="\${COMP_WORDS[COMP_CWORD]}"
  path=""
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "\${COMP_WORDS[i]}" in -*) ;; *) [ -n "$path" ] && path="$path \${COMP_WORDS[i]}" || path="\${COMP_WORDS[i]}" ;; esac
  done
  while :; do
    case "$path" in
${cases}
    *) if [ "\${path% *}" = "$path" ]; then path=""; else path="\${path% *}"; fi; continue ;;
    esac
    break
  done
  COMPREPLY=( $(compgen -W "$words" -- "$cur") )
}
complete -F _latchkey latchkey
`;
}

export function completionCommand(program: Command): void {
  program
    .command('completion <shell>')
    .description('print a shell completion script (bash; zsh with bashcompinit)')
    .addHelpText(
      'after',
      '\nExamples:\n  $ source <(latchkey completion bash)\n  $ latchkey completion bash > /etc/bash_completion.d/latchkey',
    )
    .action((shell: string) => {
      if (shell !== 'bash' && shell !== 'zsh')
        throw usage(`completion for ${JSON.stringify(shell)} is not available: bash or zsh`);
      const prefix = shell === 'zsh' ? 'autoload -U +X bashcompinit && bashcompinit\n' : '';
      process.stdout.write(prefix + bashScript(completionTable(program)));
    });
}
