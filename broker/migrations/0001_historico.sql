-- Conversation history. Portable SQL: the same migration runs on SQLite and PostgreSQL.
-- Times are milliseconds since the Unix epoch (UTC).

CREATE TABLE conversas (
    -- The broker's conversation id (the one in Conectado and Mensagem); unique across restarts,
    -- because the broker starts numbering after the highest stored one.
    id BIGINT PRIMARY KEY,
    departamento TEXT NOT NULL,
    cliente TEXT NOT NULL,
    atendente TEXT NOT NULL,
    -- When the customer joined the line, and when the chat started.
    entrou_em BIGINT NOT NULL,
    conectada_em BIGINT NOT NULL,
    -- When and why it ended; NULL while it is open.
    encerrada_em BIGINT,
    motivo TEXT
);

CREATE INDEX conversas_por_inicio ON conversas (conectada_em);
CREATE INDEX conversas_por_cliente ON conversas (cliente);

CREATE TABLE mensagens (
    conversa BIGINT NOT NULL REFERENCES conversas (id),
    -- Order within the conversation, from 1.
    seq BIGINT NOT NULL,
    -- 'cliente' or 'atendente', and their name.
    papel TEXT NOT NULL,
    autor TEXT NOT NULL,
    texto TEXT NOT NULL,
    enviada_em BIGINT NOT NULL,
    PRIMARY KEY (conversa, seq)
);
