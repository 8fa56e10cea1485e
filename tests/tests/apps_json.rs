//! The apps driven by a script, as `--json` promises: one JSON object per event on stdout, lines
//! and commands on stdin. Nothing a script writes may be lost, however fast it writes: a peer over
//! the broker's rate is slowed down, not robbed.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use broker::Config;
use serde_json::Value;
use tests::{TOKEN_DE_TESTE, config_de_teste, construir_apps, iniciar_broker_com};

/// How long one event may take to show before the test fails.
const PACIENCIA: Duration = Duration::from_secs(20);

/// One app under `--json`: its stdin, and its stdout's events as they come.
struct App {
    processo: Child,
    entrada: Option<ChildStdin>,
    eventos: mpsc::Receiver<Value>,
}

impl App {
    fn iniciar(pasta: &Path, binario: &str, argumentos: &[&str]) -> App {
        let mut processo = Command::new(pasta.join(binario))
            .arg("--json")
            .args(argumentos)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the app starts");
        let saida = processo.stdout.take().expect("piped");
        let (tx, eventos) = mpsc::channel();
        std::thread::spawn(move || {
            for linha in BufReader::new(saida).lines() {
                let Ok(linha) = linha else { break };
                let evento: Value = serde_json::from_str(&linha)
                    .unwrap_or_else(|erro| panic!("not JSON ({erro}): {linha}"));
                if tx.send(evento).is_err() {
                    break;
                }
            }
        });
        App {
            entrada: processo.stdin.take(),
            processo,
            eventos,
        }
    }

    /// The next event named `nome`, skipping the others; fails on an `erro` event.
    fn esperar(&self, nome: &str) -> Value {
        loop {
            let evento = self
                .eventos
                .recv_timeout(PACIENCIA)
                .unwrap_or_else(|_| panic!("no `{nome}` event in time"));
            if evento["evento"] == "erro" {
                panic!("the app reported an error while waiting for `{nome}`: {evento}");
            }
            if evento["evento"] == nome {
                return evento;
            }
        }
    }

    fn escrever(&mut self, texto: &str) {
        let entrada = self.entrada.as_mut().expect("stdin still open");
        entrada.write_all(texto.as_bytes()).expect("writes");
        entrada.flush().expect("flushes");
    }
}

impl Drop for App {
    fn drop(&mut self) {
        drop(self.entrada.take());
        let _ = self.processo.kill();
        let _ = self.processo.wait();
    }
}

fn endereco(broker: SocketAddr) -> String {
    broker.to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn duzentas_linhas_de_uma_vez_chegam_todas_em_ordem() {
    let pasta = tokio::task::spawn_blocking(construir_apps)
        .await
        .expect("builds");
    // A rate well below what the script writes: 200 lines at once against 50 a second.
    let broker = iniciar_broker_com(Config {
        mensagens_por_segundo: 50,
        rajada_de_mensagens: 20,
        tolerancia_retomada: Duration::from_secs(30),
        ..config_de_teste()
    })
    .await;
    let servidor = endereco(broker.endereco());
    let teste = tokio::task::spawn_blocking(move || {
        let atendente = App::iniciar(
            &pasta,
            "atendente",
            &[
                "--nome",
                "Yuri",
                "--departamentos",
                "geral",
                "--token",
                TOKEN_DE_TESTE,
                "--servidor",
                &servidor,
            ],
        );
        atendente.esperar("bemvindo");
        let mut cliente = App::iniciar(
            &pasta,
            "cliente",
            &[
                "--nome",
                "Ana",
                "--departamento",
                "geral",
                "--servidor",
                &servidor,
            ],
        );
        cliente.esperar("conectado");
        atendente.esperar("conectado");
        const LINHAS: usize = 200;
        let mut todas = String::new();
        for i in 1..=LINHAS {
            todas.push_str(&format!("linha {i:03}\n"));
        }
        cliente.escrever(&todas);
        for i in 1..=LINHAS {
            let mensagem = atendente.esperar("mensagem");
            assert_eq!(mensagem["de"], "Ana");
            assert_eq!(mensagem["texto"], format!("linha {i:03}"), "in order, once");
        }
        // The last word goes through after the flood, and nothing came twice before it.
        cliente.escrever("/sair\n");
        assert_eq!(atendente.esperar("fim")["motivo"], "cliente_saiu");
        assert!(
            atendente
                .eventos
                .try_iter()
                .all(|evento| evento["evento"] != "mensagem"),
            "no line arrived twice"
        );
    });
    teste.await.expect("the scripted chat goes as expected");
    broker.parar().await;
}

/// `atendente --json --capacidade 2` with two customers: every event names its chat, a JSON
/// line on stdin answers a given chat, a plain line goes to the chat opened last, and `/fim N`
/// ends chat N only.
#[tokio::test(flavor = "multi_thread")]
async fn atendente_com_duas_conversas_escolhe_a_conversa_de_cada_linha() {
    let pasta = tokio::task::spawn_blocking(construir_apps)
        .await
        .expect("builds");
    let broker = iniciar_broker_com(config_de_teste()).await;
    let servidor = endereco(broker.endereco());
    let teste = tokio::task::spawn_blocking(move || {
        let cliente = |nome: &str| {
            let argumentos = ["--nome", nome, "--departamento", "geral", "--servidor"];
            App::iniciar(&pasta, "cliente", &[&argumentos[..], &[&servidor]].concat())
        };
        let mut atendente = App::iniciar(
            &pasta,
            "atendente",
            &[
                "--nome",
                "Yuri",
                "--capacidade",
                "2",
                "--token",
                TOKEN_DE_TESTE,
                "--servidor",
                &servidor,
            ],
        );
        assert_eq!(atendente.esperar("bemvindo")["capacidade"], 2);
        let mut ana = cliente("Ana");
        let ana_conversa = ana.esperar("conectado")["conversa"].clone();
        assert_eq!(atendente.esperar("conectado")["com"], "Ana");
        let bia = cliente("Bia");
        let bia_conversa = bia.esperar("conectado")["conversa"].clone();
        assert_eq!(atendente.esperar("conectado")["com"], "Bia");
        assert_ne!(ana_conversa, bia_conversa);

        atendente.escrever(&format!(
            "{{\"conversa\": {ana_conversa}, \"texto\": \"/oi Ana\"}}\nolá, Bia\n"
        ));
        let para_ana = ana.esperar("mensagem");
        assert_eq!(
            para_ana["texto"], "/oi Ana",
            "a JSON line's text goes as it is"
        );
        assert_eq!(para_ana["conversa"], ana_conversa);
        assert_eq!(
            bia.esperar("mensagem")["texto"],
            "olá, Bia",
            "the chat opened last"
        );

        ana.escrever("obrigada\n");
        let de_ana = atendente.esperar("mensagem");
        assert_eq!(
            (&de_ana["de"], &de_ana["conversa"]),
            (&Value::from("Ana"), &ana_conversa)
        );
        atendente.escrever(&format!("/fim {ana_conversa}\n"));
        assert_eq!(ana.esperar("fim")["motivo"], "atendente_encerrou");
        let fim = atendente.esperar("fim");
        assert_eq!(fim["conversa"], ana_conversa);
        // Bia's chat goes on.
        atendente.escrever("ainda aqui\n");
        assert_eq!(bia.esperar("mensagem")["texto"], "ainda aqui");
    });
    teste.await.expect("the scripted chats go as expected");
    broker.parar().await;
}

/// `cliente --json` with no `--departamento`, against a broker with a list: it takes the first
/// department; twelve lines written while nobody is online all reach the agent in order (ten as
/// `na_espera`, two right after, kept by the app); `/nota 5` rates the chat the agent ends, and
/// the app exits.
#[tokio::test(flavor = "multi_thread")]
async fn cliente_escreve_na_fila_e_avalia() {
    let pasta = tokio::task::spawn_blocking(construir_apps)
        .await
        .expect("builds");
    let broker = iniciar_broker_com(Config {
        departamentos: vec!["vendas".into(), "suporte".into()],
        prazo_avaliacao: Duration::from_secs(120),
        // Resumable, so that lines are numbered and confirmed.
        tolerancia_retomada: Duration::from_secs(60),
        ..config_de_teste()
    })
    .await;
    let servidor = endereco(broker.endereco());
    let teste = tokio::task::spawn_blocking(move || {
        let mut ana = App::iniciar(
            &pasta,
            "cliente",
            &["--nome", "Ana", "--servidor", &servidor],
        );
        assert_eq!(ana.esperar("departamentos")["nomes"][0], "vendas");
        let fila = ana.esperar("fila");
        assert_eq!(
            (&fila["posicao"], &fila["atendentes"]),
            (&1.into(), &0.into())
        );
        assert!(fila["estimativa_s"].is_null());
        let linhas: Vec<String> = (1..=12).map(|i| format!("linha {i}")).collect();
        ana.escrever(&(linhas.join("\n") + "\n"));
        for seq in 1..=10 {
            assert_eq!(ana.esperar("confirmada")["seq"], seq);
        }
        let mut yuri = App::iniciar(
            &pasta,
            "atendente",
            &[
                "--nome",
                "Yuri",
                "--departamentos",
                "vendas",
                "--token",
                TOKEN_DE_TESTE,
                "--servidor",
                &servidor,
            ],
        );
        let conectado = yuri.esperar("conectado");
        assert_eq!(conectado["departamento"], "vendas");
        let na_espera = yuri.esperar("na_espera");
        assert_eq!(na_espera["textos"], Value::from(linhas[..10].to_vec()));
        for linha in &linhas[10..] {
            assert_eq!(yuri.esperar("mensagem")["texto"], linha.as_str());
        }
        yuri.escrever("/fim\n");
        assert_eq!(ana.esperar("fim")["motivo"], "atendente_encerrou");
        assert_eq!(ana.esperar("avaliacao")["prazo_s"], 120);
        ana.escrever("/nota 5\n");
        let fim = ana.esperar("fim");
        assert!(fim["conversa"].is_null());
        assert_eq!(fim["motivo"], "cliente_saiu");
        let status = ana.processo.wait().expect("the app exits");
        assert!(status.success(), "{status}");
    });
    teste.await.expect("the customer's script goes as expected");
    broker.parar().await;
}
