import { adapterContract } from '../contract.js';
import { guardSubject } from './guard.js';

adapterContract(guardSubject);
