import { adapterContract } from './contract.js';
import { guardSubject } from './subjects/guard.js';

adapterContract(guardSubject);
