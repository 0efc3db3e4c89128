import fastify from 'fastify';
import fastify4 from 'fastify4';
import { adapterContract } from '../contract.js';
import { fastifySubject } from './fastify.js';

adapterContract(fastifySubject('Fastify 5', fastify));
adapterContract(fastifySubject('Fastify 4', fastify4 as unknown as typeof fastify));
