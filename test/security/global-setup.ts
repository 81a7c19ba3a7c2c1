// The security tests run the real CLI (bin/hapg.js → dist/): build it from the sources under test.
import { execa } from 'execa';

export default async function setup(): Promise<void> {
  await execa('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
}
