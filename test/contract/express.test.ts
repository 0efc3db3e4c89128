import express from 'express';
import express4 from 'express4';
import { adapterContract } from './contract.js';
import { expressSubject } from './subjects/express.js';

adapterContract(expressSubject('Express 5 (app.use)', express, 'use'));
adapterContract(expressSubject('Express 4 (app.use)', express4, 'use'));
