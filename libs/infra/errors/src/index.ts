export { ProblemError, isProblemError, problemPage, problemIndexPage, PROBLEM_CODES, PROBLEM_TYPE_BASE, type ProblemBody, type ProblemCode, type ProblemOptions } from './problem.js';
export { parseBody, parseQuery, fieldErrors, issueMessage, pointer, validationProblem, PAGE_QUERY, pageQuery, toPage, type FieldError } from './validation.js';
