//! The conversation history, on both of its databases: SQLite (a file, the default) and the
//! machine's PostgreSQL server (each test in a schema of its own).

use broker::Config;
use broker::armazenamento::{Banco, Conversa, Filtro};
use proto::{MotivoFim, ParaBroker};
use tests::bancos::{banco_postgres, banco_sqlite, largar_esquema};
use tests::{Par, Participante, config_de_teste, esperar_par, iniciar_broker_com};

/// The conversations that pass `filtro`.
async fn listar(historico: &Banco, filtro: Filtro) -> Vec<Conversa> {
    historico.conversas(&filtro).await.expect("lists")
}

fn config_com_banco(url: &str) -> Config {
    Config {
        banco: Some(url.to_owned()),
        ..config_de_teste()
    }
}

/// Three conversations: Ana with Yuri (two round trips, then Ana leaves), then Bia with Yuri
/// (ended by Yuri), then Caio, still chatting when the broker is stopped (which stores
/// everything queued). Yuri must be told of `anteriores_de_ana` earlier chats of Ana's.
async fn atender_tres_clientes(url: &str, anteriores_de_ana: usize) {
    let broker = iniciar_broker_com(config_com_banco(url)).await;
    let endereco = broker.endereco();
    let mut par = Par::formar(endereco, "vendas").await;
    let (sobre, anteriores) = par.atendente.esperar_anteriores().await;
    assert_eq!(sobre, par.atendente.conversa);
    let ja_houve: Vec<_> = anteriores.iter().map(|a| a.conversa).collect();
    assert!(
        ja_houve.iter().all(|&c| c < sobre),
        "only earlier conversations: {anteriores:?}"
    );
    assert_eq!(anteriores.len(), anteriores_de_ana, "{anteriores:?}");
    if let Some(ultima) = anteriores.first() {
        // Ana's previous chat: with Yuri, four lines, ended by her.
        assert_eq!(ultima.atendente, "Yuri");
        assert_eq!(ultima.departamento, "vendas");
        assert_eq!(ultima.mensagens, 4);
        assert_eq!(ultima.motivo, Some(MotivoFim::ClienteSaiu));
    }
    par.conversar().await;
    par.conversar().await;
    par.cliente.enviar(ParaBroker::Sair { seq: 0 }).await;
    par.atendente.esperar_fim(MotivoFim::ClienteSaiu).await;
    let mut yuri = par.atendente;
    let mut bia = Participante::cliente(endereco, "Bia", "vendas").await;
    esperar_par(&mut bia, &mut yuri).await;
    bia.dizer("ção 🎉").await;
    yuri.esperar_mensagem("Bia", "ção 🎉").await;
    yuri.encerrar(yuri.conversa).await;
    bia.esperar_fim(MotivoFim::AtendenteEncerrou).await;
    yuri.esperar_fim(MotivoFim::AtendenteEncerrou).await;
    // Caio is still chatting when the broker shuts down.
    let mut caio = Participante::cliente(endereco, "Caio", "vendas").await;
    esperar_par(&mut caio, &mut yuri).await;
    broker.parar().await;
}

async fn grava_e_le_de_volta(url: &str) {
    atender_tres_clientes(url, 0).await;
    let historico = Banco::abrir(url).await.expect("the history opens");
    let conversas = listar(
        &historico,
        Filtro {
            limite: 10,
            ..Filtro::default()
        },
    )
    .await;
    assert_eq!(conversas.len(), 3, "{conversas:?}");
    let (ana, bia, caio) = (&conversas[0], &conversas[1], &conversas[2]);
    assert_eq!(caio.cliente, "Caio");
    assert_eq!(caio.motivo.as_deref(), Some("broker_encerrando"));
    assert_eq!(caio.mensagens, 0);
    assert_eq!(
        (
            ana.cliente.as_str(),
            ana.atendente.as_str(),
            ana.departamento.as_str()
        ),
        ("Ana", "Yuri", "vendas")
    );
    assert_eq!(ana.motivo.as_deref(), Some("cliente_saiu"));
    assert_eq!(ana.mensagens, 4);
    assert!(ana.entrou_em <= ana.conectada_em);
    assert!(ana.encerrada_em.is_some_and(|fim| fim >= ana.conectada_em));
    assert_eq!(bia.cliente, "Bia");
    assert_eq!(bia.motivo.as_deref(), Some("atendente_encerrou"));
    assert!(bia.id > ana.id);

    let (_, linhas) = historico
        .transcricao(ana.id)
        .await
        .expect("reads")
        .expect("the conversation is there");
    let lidas: Vec<_> = linhas
        .iter()
        .map(|m| (m.seq, m.papel.as_str(), m.autor.as_str(), m.texto.as_str()))
        .collect();
    assert_eq!(
        lidas,
        [
            (1, "cliente", "Ana", "pergunta 1"),
            (2, "atendente", "Yuri", "resposta 1"),
            (3, "cliente", "Ana", "pergunta 2"),
            (4, "atendente", "Yuri", "resposta 2"),
        ]
    );
    let (_, linhas) = historico
        .transcricao(bia.id)
        .await
        .expect("reads")
        .expect("there");
    assert_eq!(linhas.len(), 1);
    assert_eq!(linhas[0].texto, "ção 🎉");

    // Filters.
    let so_bia = listar(
        &historico,
        Filtro {
            cliente: Some("Bia".into()),
            limite: 10,
            ..Filtro::default()
        },
    )
    .await;
    assert_eq!(so_bia.len(), 1);
    let outro_departamento = listar(
        &historico,
        Filtro {
            departamento: Some("suporte".into()),
            limite: 10,
            ..Filtro::default()
        },
    )
    .await;
    assert!(outro_departamento.is_empty());
    let so_a_ultima = listar(
        &historico,
        Filtro {
            limite: 1,
            ..Filtro::default()
        },
    )
    .await;
    assert_eq!(so_a_ultima.len(), 1);
    assert_eq!(so_a_ultima[0].id, caio.id);
    assert!(
        historico
            .transcricao(bia.id + 100)
            .await
            .expect("reads")
            .is_none()
    );

    // A restarted broker numbers new conversations after the stored ones, and tells the agent
    // about the customer's earlier chats when a new one starts.
    atender_tres_clientes(url, 1).await;
    let todas = listar(
        &historico,
        Filtro {
            limite: 10,
            ..Filtro::default()
        },
    )
    .await;
    assert_eq!(todas.len(), 6);
    let ids: Vec<i64> = todas.iter().map(|c| c.id).collect();
    assert_eq!(
        ids,
        [
            ana.id,
            bia.id,
            caio.id,
            caio.id + 1,
            caio.id + 2,
            caio.id + 3
        ]
    );
}

#[tokio::test]
async fn historico_no_sqlite() {
    grava_e_le_de_volta(&banco_sqlite("grava")).await;
}

#[tokio::test]
async fn historico_no_postgres() {
    grava_e_le_de_volta(&banco_postgres("grava").await).await;
    // Leave the server as it was (on failure the schema stays, for a look).
    largar_esquema("grava").await;
}
