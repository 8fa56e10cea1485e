//! Resuming a session after its connection drops: a customer keeps its place in line, a chat
//! goes on, and every line sent meanwhile (both ways) arrives once, in order. The links go
//! through a relay the test cuts, as a tunnel would. The mid-chat scenario runs with the history
//! on SQLite and on the machine's PostgreSQL, whose transcript must hold every line once.

use std::time::Duration;

use broker::Config;
use broker::armazenamento::{Banco, Filtro};
use proto::{CodigoErro, DoBroker, MotivoFim, ParaBroker};
use tests::bancos::{banco_postgres, banco_sqlite, largar_esquema};
use tests::{
    Bruto, Participante, Tomada, config_de_teste, encerrar_com_o_cliente_fora, esperar_par,
    iniciar_broker_com,
};

/// The test broker with resumes on (and the history in `banco`, if given).
fn config_retomavel(banco: Option<String>) -> Config {
    Config {
        tolerancia_retomada: Duration::from_secs(30),
        banco,
        ..config_de_teste()
    }
}

/// Both sides say `linhas` lines each while `caiu`'s connection is cut, then check that each
/// got the other's lines once and in order, and that the broker confirmed its own.
async fn conversar_com_queda(
    caiu: &mut Participante,
    outro: &mut Participante,
    tomada: &Tomada,
    rotulo: &str,
) {
    tomada.cortar();
    for i in 1..=3 {
        outro.dizer(&format!("{rotulo}: {} {i}", outro.nome)).await;
        caiu.dizer(&format!("{rotulo}: {} {i}", caiu.nome)).await;
    }
    // A last line each way after the resume, so a duplicate would show up before it.
    for i in 1..=3 {
        let texto = format!("{rotulo}: {} {i}", outro.nome);
        caiu.esperar_mensagem(&outro.nome.clone(), &texto).await;
    }
    for i in 1..=3 {
        let texto = format!("{rotulo}: {} {i}", caiu.nome);
        outro.esperar_mensagem(&caiu.nome.clone(), &texto).await;
    }
    outro.dizer(&format!("{rotulo}: fim")).await;
    caiu.esperar_mensagem(&outro.nome.clone(), &format!("{rotulo}: fim"))
        .await;
    caiu.dizer(&format!("{rotulo}: fim")).await;
    outro
        .esperar_mensagem(&caiu.nome.clone(), &format!("{rotulo}: fim"))
        .await;
}

/// Ana's connection drops mid-chat, then Yuri's; both resume and nothing is lost or doubled.
async fn queda_no_meio_da_conversa(banco: Option<String>) {
    let broker = iniciar_broker_com(config_retomavel(banco.clone())).await;
    let do_cliente = Tomada::abrir(broker.endereco()).await;
    let do_atendente = Tomada::abrir(broker.endereco()).await;
    let mut yuri = Participante::atendente(do_atendente.endereco(), "Yuri", &["geral"]).await;
    let mut ana = Participante::cliente(do_cliente.endereco(), "Ana", "geral").await;
    assert_eq!(ana.conexao.tolerancia_ms, 30_000);
    let conversa = esperar_par(&mut ana, &mut yuri).await;

    conversar_com_queda(&mut ana, &mut yuri, &do_cliente, "cliente caiu").await;
    // Whether Yuri heard of Ana's drop depends on who noticed first (the broker, or Ana's
    // handle, which may resume before the broker sees the old connection go); if he did, he
    // also heard she came back.
    assert_ne!(yuri.parceiro_conectado, Some(false));
    conversar_com_queda(&mut yuri, &mut ana, &do_atendente, "atendente caiu").await;
    // Each side's eight lines were confirmed (the last confirmation may still be on its way
    // when the partner reads the line, so wait for the goodbye first).
    ana.enviar(ParaBroker::Sair { seq: 0 }).await;
    yuri.esperar_fim(MotivoFim::ClienteSaiu).await;
    ana.esperar_fim(MotivoFim::ClienteSaiu).await;
    assert_eq!(ana.confirmada, 8);
    broker.parar().await;

    let Some(url) = banco else { return };
    let historico = Banco::abrir(&url).await.expect("the history opens");
    let (_, linhas) = historico
        .transcricao(i64::try_from(conversa).expect("small id"))
        .await
        .expect("reads")
        .expect("the conversation is stored");
    let mut textos: Vec<(String, String)> = linhas
        .into_iter()
        .map(|linha| (linha.autor, linha.texto))
        .collect();
    textos.sort();
    let mut esperados = Vec::new();
    for rotulo in ["cliente caiu", "atendente caiu"] {
        for nome in ["Ana", "Yuri"] {
            for i in 1..=3 {
                esperados.push((nome.to_owned(), format!("{rotulo}: {nome} {i}")));
            }
            esperados.push((nome.to_owned(), format!("{rotulo}: fim")));
        }
    }
    esperados.sort();
    assert_eq!(textos, esperados, "every line stored once");
    let conversas = historico
        .conversas(&Filtro {
            limite: 10,
            ..Filtro::default()
        })
        .await
        .expect("lists");
    assert_eq!(conversas.len(), 1, "a resume is not a new conversation");
    assert_eq!(conversas[0].motivo.as_deref(), Some("cliente_saiu"));
}

#[tokio::test]
async fn queda_no_meio_da_conversa_com_historico_no_sqlite() {
    queda_no_meio_da_conversa(Some(banco_sqlite("retomada"))).await;
}

#[tokio::test]
async fn queda_no_meio_da_conversa_com_historico_no_postgres() {
    queda_no_meio_da_conversa(Some(banco_postgres("retomada").await)).await;
    largar_esquema("retomada").await;
}

#[tokio::test]
async fn cliente_que_cai_na_fila_mantem_o_lugar() {
    let broker = iniciar_broker_com(config_retomavel(None)).await;
    let endereco = broker.endereco();
    let tomada = Tomada::abrir(endereco).await;
    let mut ana = Participante::cliente(tomada.endereco(), "Ana", "geral").await;
    ana.esperar_posicao(1).await;
    let mut bia = Participante::cliente(endereco, "Bia", "geral").await;
    bia.esperar_posicao(2).await;
    tomada.cortar();
    // Back on a new connection, Ana is told her place again: still first.
    ana.esperar_posicao(1).await;
    let mut yuri = Participante::atendente(endereco, "Yuri", &["geral"]).await;
    esperar_par(&mut ana, &mut yuri).await;
    bia.esperar_posicao(1).await;
    broker.parar().await;
}

#[tokio::test]
async fn atendente_que_nao_volta_a_tempo_devolve_o_cliente_a_fila() {
    let broker = iniciar_broker_com(Config {
        tolerancia_retomada: Duration::from_millis(300),
        ..config_de_teste()
    })
    .await;
    let endereco = broker.endereco();
    let tomada = Tomada::abrir(endereco).await;
    let mut yuri = Participante::atendente(tomada.endereco(), "Yuri", &["geral"]).await;
    let mut ana = Participante::cliente(endereco, "Ana", "geral").await;
    esperar_par(&mut ana, &mut yuri).await;
    // Yuri's link goes down for good: only when his grace period is over does Ana hear of it
    // (rule 9), and she is back at the head of the line.
    tomada.desligar();
    ana.esperar_fim(MotivoFim::AtendenteDesconectou).await;
    assert_eq!(
        ana.parceiro_conectado,
        Some(false),
        "Ana was told Yuri's connection dropped before the end"
    );
    ana.esperar_posicao(1).await;
    // Yuri's app gave up: its stream ends with an error.
    match tokio::time::timeout(
        tests::PACIENCIA,
        futures::StreamExt::next(&mut yuri.conexao.eventos),
    )
    .await
    {
        Ok(Some(Err(_))) => {}
        outro => panic!("Yuri's handle should report the lost session: {outro:?}"),
    }
    // The name is free again at once for Yuri's next login.
    let mut yuri = Participante::atendente(endereco, "Yuri", &["geral"]).await;
    esperar_par(&mut ana, &mut yuri).await;
    broker.parar().await;
}

#[tokio::test]
async fn cliente_fora_quando_o_atendente_encerra_recebe_o_fim_ao_voltar() {
    let broker = iniciar_broker_com(config_retomavel(None)).await;
    let endereco = broker.endereco();
    let tomada = Tomada::abrir(endereco).await;
    let mut yuri = Participante::atendente(endereco, "Yuri", &["geral"]).await;
    let mut ana = Participante::cliente(tomada.endereco(), "Ana", "geral").await;
    esperar_par(&mut ana, &mut yuri).await;
    // Ana is out of reach; Yuri hears of it, and ends the chat meanwhile.
    encerrar_com_o_cliente_fora(&mut yuri, &tomada).await;
    // Back, Ana's app gets the end it missed, and the session closes normally.
    tomada.religar();
    ana.esperar_fim(MotivoFim::AtendenteEncerrou).await;
    // The session's own end (a customer away is not asked for a rating), then the close.
    ana.esperar_fim(MotivoFim::AtendenteEncerrou).await;
    assert_eq!(ana.proximo().await, None);
    broker.parar().await;
}

#[tokio::test]
async fn retomada_com_ficha_desconhecida_e_recusada() {
    let broker = iniciar_broker_com(config_retomavel(None)).await;
    let mut apresentacao = proto::Apresentacao::cliente("Ana", "geral");
    apresentacao.retomar = Some(proto::Retomada {
        ficha: [7; 16],
        recebidos: 0,
    });
    match proto::Conexao::conectar(broker.endereco(), apresentacao).await {
        Err(proto::ErroConexao::Recusada { codigo, .. }) => {
            assert_eq!(codigo, CodigoErro::RetomadaInvalida)
        }
        Err(outro) => panic!("wrong refusal: {outro}"),
        Ok(_) => panic!("an unknown secret must not resume anything"),
    }
    broker.parar().await;
}

#[tokio::test]
async fn sem_tolerancia_nao_ha_retomada() {
    let broker = iniciar_broker_com(config_de_teste()).await;
    let mut ana = Participante::cliente(broker.endereco(), "Ana", "geral").await;
    assert_eq!(ana.conexao.tolerancia_ms, 0);
    ana.esperar_posicao(1).await;
    // Lines are not numbered either: nothing to confirm (here, one for a chat Ana is not in).
    ana.dizer_em(7, "alguém?").await;
    assert!(matches!(
        ana.proximo_evento().await,
        DoBroker::Erro {
            codigo: CodigoErro::SemConversa,
            ..
        }
    ));
    assert_eq!(ana.confirmada, 0);
    broker.parar().await;
}

#[tokio::test]
async fn linha_reenviada_depois_da_queda_chega_uma_vez() {
    let broker = iniciar_broker_com(config_retomavel(None)).await;
    let endereco = broker.endereco();
    let mut yuri = Participante::atendente(endereco, "Yuri", &["geral"]).await;
    let mut bruto = Bruto::conectar(endereco).await;
    let ana = proto::Apresentacao::cliente("Ana", "geral");
    bruto.enviar(ParaBroker::Apresentacao(ana.clone())).await;
    let Some(DoBroker::BemVindo { ficha, .. }) = bruto.proximo().await else {
        panic!("Ana should be welcome");
    };
    let Some(DoBroker::Conectado { conversa, .. }) = bruto.proximo().await else {
        panic!("Ana should be chatting");
    };
    yuri.esperar_conexao_com("Ana").await;
    let linha = |texto: &str, seq| ParaBroker::Mensagem {
        conversa,
        texto: texto.into(),
        seq,
    };
    bruto.enviar(linha("uma vez", 1)).await;
    yuri.esperar_mensagem("Ana", "uma vez").await;
    // The connection drops before Ana reads the confirmation: she sends the line again.
    drop(bruto);
    let mut volta = Bruto::conectar(endereco).await;
    let mut retomada = ana;
    retomada.retomar = Some(proto::Retomada {
        ficha,
        recebidos: 1,
    });
    volta.enviar(ParaBroker::Apresentacao(retomada)).await;
    assert!(matches!(
        volta.proximo().await,
        Some(DoBroker::BemVindo {
            retomada: true,
            ultima_aceita: 1,
            ..
        })
    ));
    volta.enviar(linha("uma vez", 1)).await;
    volta.enviar(linha("outra", 2)).await;
    assert_eq!(volta.proximo().await, Some(DoBroker::Confirmada { seq: 1 }));
    assert_eq!(volta.proximo().await, Some(DoBroker::Confirmada { seq: 2 }));
    // Yuri gets the next line, not the first one twice.
    yuri.esperar_mensagem("Ana", "outra").await;
    broker.parar().await;
}

#[tokio::test]
async fn comando_escrito_durante_a_queda_e_cumprido_uma_vez_depois_da_retomada() {
    let broker = iniciar_broker_com(config_retomavel(None)).await;
    let endereco = broker.endereco();
    let tomada = Tomada::abrir(endereco).await;
    let mut yuri = Participante::atendente(tomada.endereco(), "Yuri", &["geral"]).await;
    let mut ana = Participante::cliente(endereco, "Ana", "geral").await;
    esperar_par(&mut ana, &mut yuri).await;
    // Yuri's route dies without a word: his /pausa and /fim are written into a connection that
    // swallows them. Only once they are gone does the link visibly drop.
    tomada.congelar();
    yuri.enviar(ParaBroker::Pausar { seq: 0 }).await;
    yuri.encerrar(yuri.conversa).await;
    let prazo = tokio::time::Instant::now() + tests::PACIENCIA;
    while tomada.engolidos() < 4 {
        assert!(
            tokio::time::Instant::now() < prazo,
            "the commands never reached the frozen link"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tomada.cortar();
    // After the resume, both commands are carried out, each once and in order: paused, then the
    // chat ends, and no new customer is given to the paused agent.
    assert_eq!(
        yuri.proximo_evento().await,
        DoBroker::Pausa { pausado: true }
    );
    yuri.esperar_fim(MotivoFim::AtendenteEncerrou).await;
    ana.esperar_fim(MotivoFim::AtendenteEncerrou).await;
    let mut bia = Participante::cliente(endereco, "Bia", "geral").await;
    bia.esperar_posicao(1).await;
    yuri.enviar(ParaBroker::Voltar { seq: 0 }).await;
    assert_eq!(
        yuri.proximo_evento().await,
        DoBroker::Pausa { pausado: false }
    );
    esperar_par(&mut bia, &mut yuri).await;
    broker.parar().await;
}

#[tokio::test]
async fn o_diario_nao_guarda_a_ficha_de_ninguem() {
    let banco = banco_sqlite("ficha");
    let broker = iniciar_broker_com(config_retomavel(Some(banco.clone()))).await;
    let mut bruto = Bruto::conectar(broker.endereco()).await;
    let ana = proto::Apresentacao::cliente("Ana", "geral");
    bruto.enviar(ParaBroker::Apresentacao(ana.clone())).await;
    let Some(DoBroker::BemVindo { ficha, .. }) = bruto.proximo().await else {
        panic!("Ana should be welcome");
    };
    // BemVindo goes out only once her session is in the journal.
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&banco).await.expect("opens");
    let estados: Vec<(Vec<u8>,)> = sqlx::query_as("SELECT estado FROM sessoes")
        .fetch_all(&pool)
        .await
        .expect("reads the journal");
    assert_eq!(estados.len(), 1, "Ana's session is journaled");
    assert!(
        !estados[0]
            .0
            .windows(ficha.len())
            .any(|janela| janela == ficha),
        "the journal must not hold the secret itself"
    );
    // The secret still resumes her session.
    drop(bruto);
    let mut volta = Bruto::conectar(broker.endereco()).await;
    let mut retomada = ana;
    retomada.retomar = Some(proto::Retomada {
        ficha,
        recebidos: 0,
    });
    volta.enviar(ParaBroker::Apresentacao(retomada)).await;
    assert!(matches!(
        volta.proximo().await,
        Some(DoBroker::BemVindo { retomada: true, ficha: devolvida, .. }) if devolvida == ficha
    ));
    broker.parar().await;
}
