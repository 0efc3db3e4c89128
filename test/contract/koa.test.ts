import Koa from 'koa';
import Koa2 from 'koa2';
import { adapterContract } from './contract.js';
import { koaSubject } from './subjects/koa.js';

adapterContract(koaSubject('Koa 3', Koa));
adapterContract(koaSubject('Koa 2', Koa2));
