// The same setup as sink-postgres: real PostgreSQL and Redis, started only if none answers.
export { default } from '../../sink-postgres/test/global-setup.js';
