import { fileStates } from '../../facts/files.js';
import { installedPackages } from '../../facts/packages.js';
import { osRelease } from '../../facts/system.js';
import type { Component } from '../component.js';
import { leftoverPolicyRc, packageSourceFiles, planPackages } from './plan.js';

/**
 * Packages are every other component's need, not a service of their own: one stage installs,
 * on all hosts at once, what the model's placements on each host ask for.
 */
export const packagesComponent: Component = {
  name: 'packages',
  placements: () => [],
  stages: {
    hosts: (model) => [
      {
        id: 'packages',
        title: 'Packages',
        async plan({ session }) {
          const hosts = Object.keys(model.inventory.hosts).filter((h) => session.remotes.has(h));
          const items = await Promise.all(
            hosts.map(async (host) => {
              const wanted = model.packagesOn(host);
              const { codename } = await session.facts.get(host, osRelease);
              const paths = packageSourceFiles(model.inventory, host, wanted, codename).map((f) => f.path);
              const [installed, files, leftover] = await Promise.all([
                session.facts.get(host, installedPackages(wanted)),
                session.facts.get(host, fileStates(paths)),
                session.facts.get(host, leftoverPolicyRc),
              ]);
              return planPackages(model.inventory, host, wanted, { codename, installed, files, leftoverPolicyRc: leftover });
            }),
          );
          return { blocks: [{ items: items.flat() }], notes: [] };
        },
      },
    ],
  },
};
