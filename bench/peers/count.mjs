/**
 * Counts the statements a process sends through node-postgres (`pg`), by wrapping
 * `Client.prototype.query` of the copy of `pg` the system under test loads. Transactions are
 * counted on the server (pg_stat_database.xact_commit of a database only this system uses).
 */
export function countStatements(pg) {
  const counter = { statements: 0 };
  const query = pg.Client.prototype.query;
  pg.Client.prototype.query = function (...args) {
    counter.statements++;
    return query.apply(this, args);
  };
  return counter;
}
