-- Chats handed over (rule 19 of the matchmaking): who handed each over, to which department or
-- agent, and when; then who took it over, and when (NULL while it waits in a line). With the
-- conversation's first agent (conversas.atendente), this tells everyone who served it.

CREATE TABLE transferencias (
    conversa BIGINT NOT NULL REFERENCES conversas (id),
    de TEXT NOT NULL,
    para TEXT NOT NULL,
    em BIGINT NOT NULL,
    assumida_por TEXT,
    assumida_em BIGINT
);

CREATE INDEX transferencias_por_conversa ON transferencias (conversa);
