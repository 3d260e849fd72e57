import { configDoc } from '../config/doc.js';
import { EXIT } from './exit.js';

/** `diffiqa-gate config-doc`: prints docs/configuration.md. */
export default async function configDocCommand(): Promise<number> {
  process.stdout.write(configDoc());
  return EXIT.ok;
}
