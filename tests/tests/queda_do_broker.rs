//! A broker killed with SIGKILL mid-chat and started again on the same database: the lines and
//! the open conversations come back, the peers' handles reconnect and resume by themselves, and
//! no line is lost or doubled, on SQLite and on the machine's PostgreSQL. The broker runs in a
//! child process (the load tool's hidden subcommand), so that it can really be killed.

use std::path::Path;

use broker::armazenamento::Banco;
use proto::{MotivoFim, ParaBroker};
use tests::bancos::{banco_postgres, banco_sqlite, largar_esquema};
use tests::carga::TOKEN_EMBUTIDO;
use tests::carga::processo::BrokerFilho;
use tests::{Participante, Tomada, encerrar_com_o_cliente_fora, esperar_par};

fn subir(banco: &str, escutar: Option<std::net::SocketAddr>) -> BrokerFilho {
    BrokerFilho::iniciar(Path::new(env!("CARGO_BIN_EXE_carga")), Some(banco), escutar)
        .expect("the broker starts in a child process")
}

async fn broker_morto_e_reiniciado(banco: &str) {
    let mut primeiro = subir(banco, None);
    let endereco = primeiro.endereco();
    let mut yuri =
        Participante::atendente_com_token(endereco, "Yuri", &["geral"], TOKEN_EMBUTIDO).await;
    let mut ana = Participante::cliente(endereco, "Ana", "geral").await;
    let conversa = esperar_par(&mut ana, &mut yuri).await;
    let mut bia = Participante::cliente(endereco, "Bia", "geral").await;
    bia.esperar_posicao(1).await;
    let mut caio = Participante::cliente(endereco, "Caio", "geral").await;
    caio.esperar_posicao(2).await;
    ana.dizer("antes 1").await;
    yuri.esperar_mensagem("Ana", "antes 1").await;
    yuri.dizer("antes 2").await;
    ana.esperar_mensagem("Yuri", "antes 2").await;

    // Lines in flight both ways when the broker dies: each may be stored or not, relayed or
    // not; whatever happened, each arrives exactly once after the restart.
    ana.dizer("no ar 1").await;
    yuri.dizer("no ar 2").await;
    let queda_ms = agora_ms();
    primeiro.matar();
    let _segundo = subir(banco, Some(endereco));

    yuri.esperar_mensagem("Ana", "no ar 1").await;
    ana.esperar_mensagem("Yuri", "no ar 2").await;
    // The chat goes on, and so do the lines.
    ana.dizer("depois 1").await;
    yuri.esperar_mensagem("Ana", "depois 1").await;
    bia.esperar_posicao(1).await;
    caio.esperar_posicao(2).await;
    // Ana leaves: Yuri takes Bia, the next in line, and Caio moves up.
    ana.enviar(ParaBroker::Sair { seq: 0 }).await;
    yuri.esperar_fim(MotivoFim::ClienteSaiu).await;
    let conversa_de_bia = esperar_par(&mut bia, &mut yuri).await;
    caio.esperar_posicao(1).await;
    ana.esperar_fim(MotivoFim::ClienteSaiu).await;
    assert_eq!(ana.confirmada, 3, "Ana's three lines were confirmed");

    let historico = Banco::abrir(banco).await.expect("the history opens");
    let (registrada, linhas) = historico
        .transcricao(i64::try_from(conversa).expect("small id"))
        .await
        .expect("reads")
        .expect("Ana's conversation is stored");
    let textos: Vec<(i64, &str)> = linhas.iter().map(|l| (l.seq, l.texto.as_str())).collect();
    let mut ordenados: Vec<&str> = textos.iter().map(|(_, texto)| *texto).collect();
    ordenados.sort_unstable();
    assert_eq!(
        ordenados,
        ["antes 1", "antes 2", "depois 1", "no ar 1", "no ar 2"],
        "every line stored once: {textos:?}"
    );
    assert!(
        textos.iter().map(|(seq, _)| *seq).eq(1..=5),
        "numbered in order: {textos:?}"
    );
    // Her chat ended normally, after the restart.
    assert_eq!(registrada.motivo.as_deref(), Some("cliente_saiu"));
    // Bia joined the line before the crash and was served after it: the history says so.
    let (de_bia, _) = historico
        .transcricao(i64::try_from(conversa_de_bia).expect("small id"))
        .await
        .expect("reads")
        .expect("Bia's conversation is stored");
    assert!(
        de_bia.entrou_em <= queda_ms && queda_ms <= de_bia.conectada_em,
        "Bia joined at {}, was served at {}, the broker died at {queda_ms}",
        de_bia.entrou_em,
        de_bia.conectada_em
    );
}

/// Ana is away when Yuri ends their chat, and the broker dies before she is back: the restarted
/// broker still has her end, and her app gets it when it resumes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cliente_ausente_recebe_o_fim_de_um_broker_reiniciado() {
    let banco = banco_sqlite("lapide");
    let mut primeiro = subir(&banco, None);
    let endereco = primeiro.endereco();
    let tomada = Tomada::abrir(endereco).await;
    let mut yuri =
        Participante::atendente_com_token(endereco, "Yuri", &["geral"], TOKEN_EMBUTIDO).await;
    let mut ana = Participante::cliente(tomada.endereco(), "Ana", "geral").await;
    esperar_par(&mut ana, &mut yuri).await;
    encerrar_com_o_cliente_fora(&mut yuri, &tomada).await;
    primeiro.matar();
    let _segundo = subir(&banco, Some(endereco));
    tomada.religar();
    ana.esperar_fim(MotivoFim::AtendenteEncerrou).await;
    // The session's own end (a customer away is not asked for a rating), then the close.
    ana.esperar_fim(MotivoFim::AtendenteEncerrou).await;
    assert_eq!(ana.proximo().await, None, "then the session closes");
}

/// Now, in milliseconds since the Unix epoch (as the history keeps times).
fn agora_ms() -> i64 {
    let desde = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970");
    i64::try_from(desde.as_millis()).expect("fits")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_morto_volta_com_filas_e_conversas_no_sqlite() {
    broker_morto_e_reiniciado(&banco_sqlite("queda")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_morto_volta_com_filas_e_conversas_no_postgres() {
    broker_morto_e_reiniciado(&banco_postgres("queda").await).await;
    largar_esquema("queda").await;
}
