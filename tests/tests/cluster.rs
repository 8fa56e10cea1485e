//! Two brokers of one cluster on the machine's PostgreSQL (a schema of its own per test), each
//! in a child process so that it can really be killed or frozen: one serves, the other stands
//! by with its port closed. The apps are given both addresses. When the active dies mid-chat
//! the standby takes over and the apps resume there, every line once and in order, waiting
//! customers in their places; an active frozen until the standby took over, then thawed, lets
//! nothing more out and steps down; an active stopped on purpose hands over.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use broker::armazenamento::Banco;
use proto::DoBroker;
use tests::bancos::{banco_postgres, largar_esquema};
use tests::carga::TOKEN_EMBUTIDO;
use tests::carga::processo::{BrokerFilho, esperar_que_aceite, esperar_que_recuse};
use tests::{Participante, esperar_par};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The lease's term in these tests: a standby takes over within about this long.
const PRAZO: Duration = Duration::from_secs(1);

fn membro(banco: &str) -> BrokerFilho {
    BrokerFilho::membro(
        Path::new(env!("CARGO_BIN_EXE_carga")),
        banco,
        "teste",
        PRAZO,
    )
    .expect("the member starts in a child process")
}

/// Waits until `endereco` accepts connections: its member is the active.
async fn esperar_ativo(endereco: SocketAddr) {
    assert!(
        esperar_que_aceite(endereco, Duration::from_secs(30)).await,
        "{endereco} never became the active"
    );
}

/// Waits until the member at `endereco` has stepped down and closed its port.
async fn esperar_que_saia(endereco: SocketAddr) {
    assert!(
        esperar_que_recuse(endereco, Duration::from_secs(10)).await,
        "{endereco} stepped down and closed its port"
    );
}

/// Yuri and Ana, given `servidores`, paired and past a first line; and their conversation.
async fn par_em(servidores: &str) -> (Participante, Participante, u64) {
    let mut yuri = Participante::atendente_em(servidores, "Yuri", &["geral"], TOKEN_EMBUTIDO).await;
    let mut ana = Participante::cliente_em(servidores, "Ana", "geral").await;
    let conversa = esperar_par(&mut ana, &mut yuri).await;
    ana.dizer("antes").await;
    yuri.esperar_mensagem("Ana", "antes").await;
    (yuri, ana, conversa)
}

/// Whether `endereco` refuses connections (a member standing by, or stepped down).
async fn fechado(endereco: SocketAddr) -> bool {
    TcpStream::connect(endereco).await.is_err()
}

/// A, the active, and B, standing by; the apps' list of both.
async fn dois_membros(banco: &str) -> (BrokerFilho, BrokerFilho) {
    let a = membro(banco);
    esperar_ativo(a.endereco()).await;
    let b = membro(banco);
    // B has had time to try the lock and lose.
    tokio::time::sleep(PRAZO).await;
    assert!(
        fechado(b.endereco()).await,
        "a standby keeps its port closed"
    );
    (a, b)
}

/// The cluster's epoch and its active's description, as `broker cluster` reads them.
async fn ativo_no_banco(banco: &str) -> (i64, String) {
    let historico = Banco::abrir(banco).await.expect("the history opens");
    let grupos = historico.clusters().await.expect("reads");
    assert_eq!(grupos.len(), 1, "{grupos:?}");
    (grupos[0].epoca, grupos[0].ativo.clone())
}

/// Every line of conversation `conversa` in the history, in order, as (author, text).
async fn transcricao(banco: &str, conversa: u64) -> Vec<(String, String)> {
    let historico = Banco::abrir(banco).await.expect("the history opens");
    let (_, linhas) = historico
        .transcricao(i64::try_from(conversa).expect("small id"))
        .await
        .expect("reads")
        .expect("the conversation is stored");
    assert!(
        linhas.iter().map(|l| l.seq).eq(1..=linhas.len() as i64),
        "numbered in order"
    );
    linhas.into_iter().map(|l| (l.autor, l.texto)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn o_ativo_morto_no_meio_da_conversa_e_substituido_sem_perder_nada() {
    let banco = banco_postgres("cluster_morte").await;
    let (mut a, b) = dois_membros(&banco).await;
    let (epoca, ativo) = ativo_no_banco(&banco).await;
    assert_eq!(epoca, 1);
    assert!(ativo.contains(&a.endereco().to_string()), "{ativo}");
    let servidores = format!("{},{}", a.endereco(), b.endereco());
    let (mut yuri, mut ana, conversa) = par_em(&servidores).await;
    let mut bia = Participante::cliente_em(&servidores, "Bia", "geral").await;
    bia.esperar_posicao(1).await;
    let mut caio = Participante::cliente_em(&servidores, "Caio", "geral").await;
    caio.esperar_posicao(2).await;

    // Lines in flight both ways when the active dies: stored or not, relayed or not, each
    // arrives once, in order, from the broker that takes over.
    for i in 1..=5 {
        ana.dizer(&format!("no ar a{i}")).await;
        yuri.dizer(&format!("no ar y{i}")).await;
    }
    a.matar();
    for i in 1..=5 {
        yuri.esperar_mensagem("Ana", &format!("no ar a{i}")).await;
    }
    for i in 1..=5 {
        ana.esperar_mensagem("Yuri", &format!("no ar y{i}")).await;
    }
    assert!(!fechado(b.endereco()).await, "B took over");
    let (epoca, ativo) = ativo_no_banco(&banco).await;
    assert_eq!(epoca, 2, "a takeover raises the epoch");
    assert!(ativo.contains(&b.endereco().to_string()), "{ativo}");
    ana.dizer("depois").await;
    yuri.esperar_mensagem("Ana", "depois").await;
    yuri.dizer("até logo").await;
    ana.esperar_mensagem("Yuri", "até logo").await;
    bia.esperar_posicao(1).await;
    caio.esperar_posicao(2).await;
    assert_eq!(ana.confirmada, 7, "all of Ana's lines were confirmed");

    let linhas = transcricao(&banco, conversa).await;
    let de = |autor: &str| -> Vec<String> {
        linhas
            .iter()
            .filter(|(quem, _)| quem == autor)
            .map(|(_, texto)| texto.clone())
            .collect()
    };
    let mut dela = vec!["antes".to_owned()];
    dela.extend((1..=5).map(|i| format!("no ar a{i}")));
    dela.push("depois".into());
    assert_eq!(de("Ana"), dela, "Ana's lines stored once each, in order");
    let mut dele: Vec<String> = (1..=5).map(|i| format!("no ar y{i}")).collect();
    dele.push("até logo".into());
    assert_eq!(de("Yuri"), dele, "Yuri's lines stored once each, in order");
    drop(b);
    largar_esquema("cluster_morte").await;
}

/// A relay in front of a broker that reads every frame the broker sends and notes when it came,
/// so a test can tell what the broker let out after a given moment. It stops accepting (its
/// port refuses, as the broker's own would) once [`Escuta::fechar`] is called.
struct Escuta {
    endereco: SocketAddr,
    quadros: Arc<Mutex<Vec<(Instant, DoBroker)>>>,
    aceitador: tokio::task::JoinHandle<()>,
}

impl Escuta {
    async fn abrir(broker: SocketAddr) -> Escuta {
        let ouvinte = TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let endereco = ouvinte.local_addr().expect("bound");
        let quadros = Arc::new(Mutex::new(Vec::new()));
        let anotados = Arc::clone(&quadros);
        let aceitador = tokio::spawn(async move {
            while let Ok((peer, _)) = ouvinte.accept().await {
                let anotados = Arc::clone(&anotados);
                tokio::spawn(async move {
                    let Ok(destino) = TcpStream::connect(broker).await else {
                        return;
                    };
                    let (mut de_peer, mut para_peer) = peer.into_split();
                    let (mut do_broker, mut para_broker) = destino.into_split();
                    let ida = tokio::io::copy(&mut de_peer, &mut para_broker);
                    let volta = anotar(&mut do_broker, &mut para_peer, &anotados);
                    tokio::select! {
                        _ = ida => {}
                        _ = volta => {}
                    }
                });
            }
        });
        Escuta {
            endereco,
            quadros,
            aceitador,
        }
    }

    /// Refuses new connections from now on.
    fn fechar(&self) {
        self.aceitador.abort();
    }

    /// The frames the broker sent after `desde`, heartbeats aside.
    fn depois_de(&self, desde: Instant) -> Vec<DoBroker> {
        self.quadros
            .lock()
            .expect("not poisoned")
            .iter()
            .filter(|(quando, quadro)| *quando >= desde && *quadro != DoBroker::Ping)
            .map(|(_, quadro)| quadro.clone())
            .collect()
    }
}

/// Relays the broker's frames to the peer, noting each one with the time it was read.
async fn anotar(
    do_broker: &mut tokio::net::tcp::OwnedReadHalf,
    para_peer: &mut tokio::net::tcp::OwnedWriteHalf,
    anotados: &Mutex<Vec<(Instant, DoBroker)>>,
) -> std::io::Result<()> {
    loop {
        let tamanho = do_broker.read_u32().await?;
        let mut corpo = vec![0; tamanho as usize];
        do_broker.read_exact(&mut corpo).await?;
        let quando = Instant::now();
        let quadro: DoBroker = proto::codec::decodificar(&corpo)?;
        anotados
            .lock()
            .expect("not poisoned")
            .push((quando, quadro));
        para_peer.write_u32(tamanho).await?;
        para_peer.write_all(&corpo).await?;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn o_ativo_congelado_e_substituido_e_ao_voltar_nao_entrega_nada() {
    let banco = banco_postgres("cluster_congelado").await;
    let (a, b) = dois_membros(&banco).await;
    let escuta = Escuta::abrir(a.endereco()).await;
    let servidores = format!("{},{}", escuta.endereco, b.endereco());
    let (mut yuri, mut ana, conversa) = par_em(&servidores).await;
    let mut bia = Participante::cliente_em(&servidores, "Bia", "geral").await;
    bia.esperar_posicao(1).await;
    // Both sides have heard everything: nothing is still on its way from A.
    yuri.dizer("oi").await;
    ana.esperar_mensagem("Yuri", "oi").await;

    a.congelar();
    let congelado = Instant::now();
    // Into A's socket while it is frozen: A must not relay or confirm it once thawed.
    ana.dizer("durante").await;
    esperar_ativo(b.endereco()).await;
    escuta.fechar();
    a.descongelar();

    // A steps down (its port closes and the apps' links are cut); the apps resume on B, and
    // Ana's line, which A never confirmed, is sent again there, and arrives once.
    yuri.esperar_mensagem("Ana", "durante").await;
    ana.dizer("depois").await;
    yuri.esperar_mensagem("Ana", "depois").await;
    yuri.dizer("certo").await;
    ana.esperar_mensagem("Yuri", "certo").await;
    bia.esperar_posicao(1).await;
    esperar_que_saia(a.endereco()).await;
    let vazados = escuta.depois_de(congelado);
    assert!(
        vazados.is_empty(),
        "A let frames out after it was frozen: {vazados:?}"
    );
    assert_eq!(ana.confirmada, 3, "B confirmed Ana's lines");
    let linhas: Vec<String> = transcricao(&banco, conversa)
        .await
        .into_iter()
        .map(|(_, texto)| texto)
        .collect();
    assert_eq!(linhas, ["antes", "oi", "durante", "depois", "certo"]);
    drop((a, b));
    largar_esquema("cluster_congelado").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn o_ativo_encerrado_passa_o_atendimento_ao_outro() {
    let banco = banco_postgres("cluster_passagem").await;
    let (a, b) = dois_membros(&banco).await;
    let servidores = format!("{},{}", a.endereco(), b.endereco());
    let (mut yuri, mut ana, _) = par_em(&servidores).await;
    // Stopped on purpose (Ctrl-C, SIGTERM): no goodbye to the apps (which would end their
    // sessions), the sessions left in the journal, the lease let go.
    a.encerrar();
    esperar_ativo(b.endereco()).await;
    ana.dizer("depois").await;
    yuri.esperar_mensagem("Ana", "depois").await;
    yuri.dizer("continuando").await;
    ana.esperar_mensagem("Yuri", "continuando").await;
    drop(b);
    largar_esquema("cluster_passagem").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trava_cortada_no_banco_faz_o_ativo_sair_e_o_outro_assumir() {
    let banco = banco_postgres("cluster_cortada").await;
    let (a, b) = dois_membros(&banco).await;
    let servidores = format!("{},{}", a.endereco(), b.endereco());
    let (mut yuri, mut ana, _) = par_em(&servidores).await;
    // The server restarted, a proxy reset it, an operator ended it: A's lock connection is cut
    // while A itself runs on. B wins the lock at once; A must stop at its next renewal.
    sqlx::any::install_default_drivers();
    let servidor = sqlx::AnyPool::connect(&banco).await.expect("connects");
    let cortadas = sqlx::query(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE application_name = 'fila-broker trava pid {}'",
        a.pid()
    ))
    .fetch_all(&servidor)
    .await
    .expect("terminates A's lock connection");
    assert_eq!(cortadas.len(), 1, "A holds one lock connection");
    esperar_ativo(b.endereco()).await;
    esperar_que_saia(a.endereco()).await;
    ana.dizer("depois").await;
    yuri.esperar_mensagem("Ana", "depois").await;
    assert_eq!(ativo_no_banco(&banco).await.0, 2);
    drop((a, b));
    largar_esquema("cluster_cortada").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn um_esquema_serve_um_cluster_e_um_broker_so() {
    let banco = banco_postgres("cluster_unico").await;
    let a = membro(&banco);
    esperar_ativo(a.endereco()).await;
    let executavel = Path::new(env!("CARGO_BIN_EXE_carga"));
    // Another cluster's name on the same schema would restore (and end) this one's sessions.
    let outro = BrokerFilho::membro(executavel, &banco, "outro", PRAZO);
    assert!(outro.is_err(), "a second cluster on one schema is refused");
    // And so is a broker on its own, which would serve the same journal beside the active.
    let sozinho = BrokerFilho::iniciar(executavel, Some(&banco), None);
    assert!(
        sozinho.is_err(),
        "a broker on its own is refused while the cluster serves"
    );
    drop(a);
    largar_esquema("cluster_unico").await;
}
