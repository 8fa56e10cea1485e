//! The supervisor's view end to end: `broker painel --json` against a broker with known lines
//! and agents, every figure checked; supervisor credentials; and what a supervisor may not do.

use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use broker::Config;
use futures::StreamExt;
use proto::{Apresentacao, CodigoErro, Conexao, DoBroker, ErroConexao, MotivoFim, ParaBroker};
use serde_json::Value;
use tests::{Participante, config_de_teste, construir_apps, iniciar_broker_com};

const TOKEN_SUPERVISOR: &str = "token-do-supervisor";

fn config() -> Config {
    Config {
        departamentos: vec!["geral".into(), "vendas".into()],
        tokens_supervisor: vec![TOKEN_SUPERVISOR.into()],
        meta_servico: Duration::from_secs(20),
        ..config_de_teste()
    }
}

/// One panel from `broker painel --json --uma-vez` (run beside the test's runtime, which
/// serves the broker).
async fn painel(endereco: SocketAddr, token: &str) -> Result<Value, String> {
    let pasta = construir_apps();
    let mut comando = Command::new(pasta.join("broker"));
    comando
        .args(["painel", "--json", "--uma-vez", "--token", token])
        .args(["--servidor", &endereco.to_string()]);
    let saida = tokio::task::spawn_blocking(move || comando.output())
        .await
        .expect("joins")
        .expect("broker painel runs");
    if !saida.status.success() {
        return Err(String::from_utf8_lossy(&saida.stderr).into_owned());
    }
    let texto = String::from_utf8_lossy(&saida.stdout);
    serde_json::from_str(texto.trim()).map_err(|erro| format!("{erro}: {texto}"))
}

/// The department named `nome` in a panel.
fn departamento<'a>(painel: &'a Value, nome: &str) -> &'a Value {
    painel["departamentos"]
        .as_array()
        .and_then(|linhas| linhas.iter().find(|d| d["nome"] == nome))
        .unwrap_or_else(|| panic!("{nome} não está no painel: {painel}"))
}

#[tokio::test]
async fn o_painel_mostra_cada_fila_e_cada_atendente() {
    let inicio = Instant::now();
    let broker = iniciar_broker_com(config()).await;
    let endereco = broker.endereco();
    // geral: Zoe paused, Caio waiting.
    let mut zoe = Participante::atendente(endereco, "Zoe", &["geral"]).await;
    zoe.enviar(ParaBroker::Pausar { seq: 0 }).await;
    while zoe.proximo_evento().await != (DoBroker::Pausa { pausado: true }) {}
    let mut caio = Participante::cliente(endereco, "Caio", "geral").await;
    caio.esperar_posicao(1).await;
    // vendas: Yuri takes two at once, Ana and Bia; Davi waits, then gives up.
    let mut yuri = Participante::atendente_com_capacidade(endereco, "Yuri", &["vendas"], 2).await;
    let mut ana = Participante::cliente(endereco, "Ana", "vendas").await;
    ana.esperar_conexao_com("Yuri").await;
    let mut bia = Participante::cliente(endereco, "Bia", "vendas").await;
    bia.esperar_conexao_com("Yuri").await;
    yuri.esperar_conexao_com("Ana").await;
    yuri.esperar_conexao_com("Bia").await;
    let mut davi = Participante::cliente(endereco, "Davi", "vendas").await;
    davi.esperar_posicao(1).await;
    davi.enviar(ParaBroker::Sair { seq: 0 }).await;
    davi.esperar_fim(MotivoFim::ClienteSaiu).await;
    davi.esperar_fechamento().await;

    let painel = painel(endereco, TOKEN_SUPERVISOR)
        .await
        .expect("o painel abre");
    let decorrido = inicio.elapsed().as_millis() as u64;
    assert_eq!(painel["meta_ms"], 20_000);
    assert_eq!(painel["omitidos"], 0);
    let nomes: Vec<&str> = painel["departamentos"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|d| d["nome"].as_str())
        .collect();
    assert_eq!(nomes, ["geral", "vendas"], "na ordem configurada");

    let geral = departamento(&painel, "geral");
    let espera = geral["maior_espera_ms"].as_u64().expect("number");
    assert!(espera > 0 && espera <= decorrido, "{geral}");
    for (campo, valor) in [
        ("aguardando", 1),
        ("atendentes_online", 1),
        ("atendentes_em_conversa", 0),
        ("atendentes_pausados", 1),
        ("conversas", 0),
        ("chegadas_hoje", 1),
        ("atendidos_hoje", 0),
        ("no_prazo_hoje", 0),
        ("abandonos_hoje", 0),
    ] {
        assert_eq!(geral[campo], valor, "geral.{campo}: {geral}");
    }
    assert!(
        geral["estimativa_s"].is_null(),
        "ninguém pode atender: {geral}"
    );

    let vendas = departamento(&painel, "vendas");
    for (campo, valor) in [
        ("aguardando", 0),
        ("maior_espera_ms", 0),
        ("atendentes_online", 1),
        ("atendentes_em_conversa", 1),
        ("atendentes_pausados", 0),
        ("conversas", 2),
        ("chegadas_hoje", 3),
        ("atendidos_hoje", 2),
        ("no_prazo_hoje", 2),
        ("abandonos_hoje", 1),
    ] {
        assert_eq!(vendas[campo], valor, "vendas.{campo}: {vendas}");
    }

    let atendentes = painel["atendentes"].as_array().expect("list");
    assert_eq!(atendentes.len(), 2, "{painel}");
    let (y, z) = (&atendentes[0], &atendentes[1]);
    assert_eq!(y["nome"], "Yuri");
    assert_eq!(y["estado"], "em_conversa");
    assert_eq!(y["capacidade"], 2);
    assert_eq!(y["departamentos"], serde_json::json!(["vendas"]));
    let clientes: Vec<&str> = y["conversas"]
        .as_array()
        .expect("list")
        .iter()
        .map(|c| {
            assert_eq!(c["departamento"], "vendas");
            assert!(c["ha_ms"].as_u64().expect("number") <= decorrido);
            c["cliente"].as_str().expect("name")
        })
        .collect();
    assert_eq!(clientes, ["Ana", "Bia"]);
    assert_eq!(z["nome"], "Zoe");
    assert_eq!(z["estado"], "pausado");
    assert_eq!(z["conversas"], serde_json::json!([]));
    assert!(z["ha_ms"].as_u64().expect("number") <= decorrido);
    broker.parar().await;
}

#[tokio::test]
async fn so_o_token_de_supervisor_abre_o_painel() {
    let broker = iniciar_broker_com(config()).await;
    let endereco = broker.endereco();
    let erro = painel(endereco, "errado")
        .await
        .expect_err("um token errado é recusado");
    assert!(erro.contains("credencial de supervisor"), "{erro}");
    // An agent's token is an agent's: it opens no panel.
    let erro = painel(endereco, tests::TOKEN_DE_TESTE)
        .await
        .expect_err("o token de atendente não vale");
    assert!(erro.contains("credencial de supervisor"), "{erro}");
    let recusa = Conexao::conectar(endereco, Apresentacao::supervisor("Rita", "errado")).await;
    assert!(
        matches!(
            recusa,
            Err(ErroConexao::Recusada {
                codigo: CodigoErro::NaoAutorizado,
                ..
            })
        ),
        "{:?}",
        recusa.err()
    );
    broker.parar().await;
}

#[tokio::test]
async fn o_supervisor_so_observa() {
    let broker = iniciar_broker_com(config()).await;
    let endereco = broker.endereco();
    let mut rita = Conexao::conectar(endereco, Apresentacao::supervisor("Rita", TOKEN_SUPERVISOR))
        .await
        .expect("a supervisor connects");
    assert_eq!(rita.capacidade, 0);
    let primeiro = proximo(&mut rita).await;
    assert!(matches!(primeiro, DoBroker::Painel(_)), "{primeiro:?}");
    rita.envio.mensagem(0, "posso falar?").await.expect("sends");
    loop {
        match proximo(&mut rita).await {
            DoBroker::Painel(_) => continue,
            DoBroker::Erro { codigo, .. } => {
                assert_eq!(codigo, CodigoErro::NaoAutorizado);
                break;
            }
            outro => panic!("esperava o erro, veio {outro:?}"),
        }
    }
    // Still watching: the next panel comes, with nobody in it from the supervisor.
    let DoBroker::Painel(painel) = proximo(&mut rita).await else {
        panic!("esperava o painel");
    };
    assert!(painel.atendentes.is_empty());
    assert!(painel.departamentos.iter().all(|d| d.aguardando == 0));
    broker.parar().await;
    // The broker's shutdown ends the supervisor's session too.
    loop {
        match rita.eventos.next().await {
            Some(Ok(DoBroker::Painel(_))) => continue,
            Some(Ok(DoBroker::Fim { conversa: 0, .. })) | None => break,
            outro => panic!("esperava o fim, veio {outro:?}"),
        }
    }
}

/// The supervisor's next frame, within a few seconds.
async fn proximo(conexao: &mut Conexao) -> DoBroker {
    tokio::time::timeout(Duration::from_secs(10), conexao.eventos.next())
        .await
        .expect("the broker answers")
        .expect("the connection is open")
        .expect("no error")
}
