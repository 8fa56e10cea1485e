-- The journal of the broker's live sessions: who waits in which line and which chats are open,
-- so that a broker that was killed comes back with them. One row per session holding its latest
-- snapshot, encoded by the broker (postcard; see broker/src/matchmaking/diario.rs). A graceful
-- shutdown empties it.

CREATE TABLE sessoes (
    id BIGINT PRIMARY KEY,
    estado BYTEA NOT NULL
);
