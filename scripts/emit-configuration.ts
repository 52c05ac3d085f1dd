// npm run schema (with the schema): writes docs/configuration.md from the table of settings.
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { configurationDoc } from '../src/platform/settings';

const file = resolve(__dirname, '..', '..', 'docs', 'configuration.md');
writeFileSync(file, configurationDoc());
console.log(`wrote ${file}`);
