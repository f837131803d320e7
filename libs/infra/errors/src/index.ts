export { ProblemError, isProblemError, PROBLEM_CODES, PROBLEM_TYPE_BASE, type ProblemBody, type ProblemCode, type ProblemOptions } from './problem.js';
