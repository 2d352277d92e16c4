// Package integration holds cdcd's end-to-end tests, which run against the real PostgreSQL,
// MariaDB and Kafka of the local stack (deploy/dev, started by `make stack-up`), over TCP on
// 127.0.0.1, and the helpers those tests share.
//
// A server that does not answer fails the test that needs it; nothing here skips. Each test gets
// its own database, table, slot and topic names from [Name], so tests never see each other's
// data and a failed run leaves nothing that breaks the next one. Waiting is always on a
// condition with a deadline ([WaitFor]), never on a fixed sleep.
//
// The server addresses follow the stack scripts' settings: CDCD_PG_PORT, CDCD_MARIADB_PORT and
// CDCD_KAFKA_PORT override the default ports 55432, 33306 and 19092.
package integration
