// The components hapg deploys, in the order their stages run within a phase. Adding one is a
// folder under src/tasks/ (its placements, facts, templates' context, plan, stages, status)
// and a line here.
import type { Component } from './component.js';
import { etcdComponent } from './etcd/component.js';
import { haproxyComponent } from './haproxy/component.js';
import { keepalivedComponent } from './keepalived/component.js';
import { packagesComponent } from './packages/component.js';
import { patroniComponent } from './patroni/component.js';
import { pgbackrestComponent } from './pgbackrest/component.js';
import { postgresComponent } from './postgres/component.js';
import { tlsComponent } from './tls/component.js';

export const COMPONENTS: readonly Component[] = [packagesComponent, tlsComponent, etcdComponent, patroniComponent, postgresComponent, pgbackrestComponent, haproxyComponent, keepalivedComponent];
