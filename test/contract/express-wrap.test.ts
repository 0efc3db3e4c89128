import express from 'express';
import express4 from 'express4';
import { adapterContract } from './contract.js';
import { expressSubject } from './subjects/express.js';

adapterContract(expressSubject('Express 5 (limit.wrap)', express, 'wrap'));
adapterContract(expressSubject('Express 4 (limit.wrap)', express4, 'wrap'));
