import fastify from 'fastify';
import fastify4 from 'fastify4';
import { adapterContract } from './contract.js';
import { fastifySubject } from './subjects/fastify.js';

type Factory = Parameters<typeof fastifySubject>[1];

adapterContract(fastifySubject('Fastify 5 (hook)', fastify, 'hook'));
adapterContract(fastifySubject('Fastify 4 (hook)', fastify4 as unknown as Factory, 'hook'));
adapterContract(fastifySubject('Fastify 5 (limit.wrap)', fastify, 'wrap'));
adapterContract(fastifySubject('Fastify 4 (limit.wrap)', fastify4 as unknown as Factory, 'wrap'));
