-- A cluster of brokers on one PostgreSQL database: one active, the others standing by (see
-- broker/src/cluster.rs). The active holds a session-level advisory lock; these rows say which
-- epoch it serves in and when it was last heard from.
--
-- lideranca: one row per cluster, written only at a takeover. `epoca` goes up by one at every
-- takeover; every transaction the active writes reads it (FOR SHARE) and gives up if it is no
-- longer its own, so a broker that lost the lease can store nothing, and a takeover waits for
-- the transaction the old active has in flight.
CREATE TABLE lideranca (
    grupo TEXT PRIMARY KEY,
    epoca BIGINT NOT NULL,
    ativo TEXT NOT NULL,
    desde BIGINT NOT NULL
);

-- batimentos: the active's heartbeat (milliseconds since the epoch), apart from `lideranca` so
-- that renewing the lease never waits on the writer's FOR SHARE lock.
CREATE TABLE batimentos (
    grupo TEXT PRIMARY KEY,
    epoca BIGINT NOT NULL,
    em BIGINT NOT NULL
);
