//! Helpers for the end-to-end tests: a real broker on `127.0.0.1:0`, participants that speak
//! the protocol through the same client handle the apps use, and a raw socket for sending
//! whatever bytes a misbehaving peer might. [`arbitrario`] holds the checks the fuzzer runs.

pub mod arbitrario;
pub mod bancos;
pub mod carga;
pub mod modelo;
pub mod ws;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use broker::{Broker, Config};
use futures::{SinkExt, StreamExt};
use proto::codec::{Quadros, enquadrar};
use proto::{
    Anterior, Apresentacao, Conexao, DoBroker, MotivoFim, Papel, ParaBroker, TAMANHO_MAXIMO_QUADRO,
    VERSAO_PROTOCOLO,
};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// How long a test waits for something that should happen at once before it fails (a guard
/// against hanging, not a timing assertion).
pub const PACIENCIA: Duration = Duration::from_secs(10);

/// The agent credential the test brokers accept.
pub const TOKEN_DE_TESTE: &str = "token-de-teste";

/// A broker configuration for tests: a free port, a fast position tick, the test credential, a
/// message rate no scripted peer reaches by accident, no resumes (so a dropped connection
/// counts as leaving at once; the resume tests turn them on), and no rating asked (a customer
/// whose agent ends the chat is let go at once; the rating tests ask for one).
pub fn config_de_teste() -> Config {
    Config {
        prazo_avaliacao: Duration::ZERO,
        tolerancia_retomada: Duration::ZERO,
        escutar: "127.0.0.1:0".parse().expect("valid address"),
        intervalo_fila: Duration::from_millis(10),
        prazo_fechamento: Duration::from_millis(500),
        tokens_atendente: vec![TOKEN_DE_TESTE.to_owned()],
        mensagens_por_segundo: 100_000,
        rajada_de_mensagens: 100_000,
        ..Config::default()
    }
}

/// Starts a broker with the test configuration.
pub async fn iniciar_broker() -> Broker {
    iniciar_broker_com(config_de_teste()).await
}

/// Starts a broker with the given configuration.
pub async fn iniciar_broker_com(config: Config) -> Broker {
    Broker::iniciar(config).await.expect("the broker starts")
}

/// A connected customer or agent, driven by the test.
pub struct Participante {
    /// Its name, for assertion messages.
    pub nome: String,
    /// The connection.
    pub conexao: Conexao,
    /// The conversation it is in, as far as the frames it has read say (0: none).
    pub conversa: u64,
    /// The highest chat line `seq` the broker has confirmed (`Confirmada` frames are taken in
    /// here rather than handed out as events).
    pub confirmada: u64,
    /// Whether the partner was last said to be connected (`Parceiro` frames, taken in here too:
    /// they come whenever the partner's connection drops or resumes).
    pub parceiro_conectado: Option<bool>,
    /// (Agents) `Anteriores` frames read while waiting for something else: they come when the
    /// history answers, so their place among the other frames is not fixed.
    anteriores: VecDeque<(u64, Vec<Anterior>)>,
}

impl Participante {
    /// Connects a customer to `departamento`.
    pub async fn cliente(endereco: SocketAddr, nome: &str, departamento: &str) -> Participante {
        Participante::cliente_em(&endereco.to_string(), nome, departamento).await
    }

    /// Connects an agent serving `departamentos`.
    pub async fn atendente(
        endereco: SocketAddr,
        nome: &str,
        departamentos: &[&str],
    ) -> Participante {
        Participante::atendente_com_token(endereco, nome, departamentos, TOKEN_DE_TESTE).await
    }

    /// Connects an agent serving `departamentos` that takes `capacidade` chats at once.
    pub async fn atendente_com_capacidade(
        endereco: SocketAddr,
        nome: &str,
        departamentos: &[&str],
        capacidade: u8,
    ) -> Participante {
        let papel = Papel::Atendente {
            departamentos: departamentos.iter().map(|d| d.to_string()).collect(),
            capacidade,
        };
        let token = Some(TOKEN_DE_TESTE.to_owned());
        Participante::conectar(&endereco.to_string(), nome, papel, token).await
    }

    /// Connects an agent serving `departamentos` with the credential `token`.
    pub async fn atendente_com_token(
        endereco: SocketAddr,
        nome: &str,
        departamentos: &[&str],
        token: &str,
    ) -> Participante {
        Participante::atendente_em(&endereco.to_string(), nome, departamentos, token).await
    }

    /// Connects a customer to `departamento` on whichever of `servidores` (`a:7878,b:7878`, a
    /// cluster's members) is active; its handle resumes on whichever is active later.
    pub async fn cliente_em(servidores: &str, nome: &str, departamento: &str) -> Participante {
        let papel = Papel::Cliente {
            departamento: departamento.into(),
        };
        Participante::conectar(servidores, nome, papel, None).await
    }

    /// Connects an agent serving `departamentos`, with the credential `token`, as
    /// [`Participante::cliente_em`] does a customer.
    pub async fn atendente_em(
        servidores: &str,
        nome: &str,
        departamentos: &[&str],
        token: &str,
    ) -> Participante {
        let papel = Papel::Atendente {
            departamentos: departamentos.iter().map(|d| d.to_string()).collect(),
            capacidade: 1,
        };
        Participante::conectar(servidores, nome, papel, Some(token.to_owned())).await
    }

    async fn conectar(
        servidores: &str,
        nome: &str,
        papel: Papel,
        token: Option<String>,
    ) -> Participante {
        let apresentacao = Apresentacao {
            versao: VERSAO_PROTOCOLO,
            nome: nome.into(),
            papel,
            token,
            retomar: None,
        };
        let conexao = Conexao::conectar_em(servidores, apresentacao)
            .await
            .unwrap_or_else(|erro| panic!("{nome} não conseguiu entrar: {erro}"));
        Participante::de(nome, conexao)
    }

    /// A customer of `departamento` that connects over WebSocket to the broker's web listener
    /// at `endereco`, as the web page does.
    pub async fn cliente_web(endereco: SocketAddr, nome: &str, departamento: &str) -> Participante {
        let conexao = ws::conectar(endereco, Apresentacao::cliente(nome, departamento))
            .await
            .unwrap_or_else(|erro| panic!("{nome} não conseguiu entrar pela web: {erro}"));
        Participante::de(nome, conexao)
    }

    /// A participant driving an open client handle.
    pub fn de(nome: &str, conexao: Conexao) -> Participante {
        Participante {
            nome: nome.into(),
            conexao,
            conversa: 0,
            confirmada: 0,
            parceiro_conectado: None,
            anteriores: VecDeque::new(),
        }
    }

    /// Sends a frame.
    pub async fn enviar(&mut self, quadro: ParaBroker) {
        self.conexao
            .envio
            .enviar(quadro)
            .await
            .unwrap_or_else(|erro| panic!("{} não conseguiu enviar: {erro}", self.nome));
    }

    /// Sends a chat line in its current conversation (an agent's: the one started last).
    pub async fn dizer(&mut self, texto: &str) {
        self.dizer_em(self.conversa, texto).await;
    }

    /// Sends a chat line in the conversation `conversa`.
    pub async fn dizer_em(&mut self, conversa: u64, texto: &str) {
        self.enviar(ParaBroker::Mensagem {
            conversa,
            texto: texto.into(),
            seq: 0,
        })
        .await;
    }

    /// (Agents) ends the chat `conversa`.
    pub async fn encerrar(&mut self, conversa: u64) {
        self.enviar(ParaBroker::Encerrar { conversa, seq: 0 }).await;
    }

    /// The next frame from the broker (`None` once it closed the connection).
    pub async fn proximo(&mut self) -> Option<DoBroker> {
        loop {
            match tokio::time::timeout(PACIENCIA, self.conexao.eventos.next()).await {
                Ok(Some(Ok(DoBroker::Confirmada { seq }))) => {
                    self.confirmada = self.confirmada.max(seq);
                }
                Ok(Some(Ok(DoBroker::Parceiro { conectado, .. }))) => {
                    self.parceiro_conectado = Some(conectado);
                }
                // Kept for `esperar_anteriores`: every chat of a broker with a history has one.
                Ok(Some(Ok(DoBroker::Anteriores {
                    conversa,
                    conversas,
                }))) => self.anteriores.push_back((conversa, conversas)),
                Ok(Some(Ok(quadro))) => {
                    match quadro {
                        DoBroker::Conectado { conversa, .. } => self.conversa = conversa,
                        DoBroker::Fim { conversa, .. }
                            if conversa == 0 || conversa == self.conversa =>
                        {
                            self.conversa = 0
                        }
                        _ => {}
                    }
                    return Some(quadro);
                }
                Ok(Some(Err(erro))) => panic!("{}: erro de leitura: {erro}", self.nome),
                Ok(None) => return None,
                Err(_) => panic!("{}: nada chegou a tempo", self.nome),
            }
        }
    }

    /// The next frame that is not a status update (a customer's position, an agent's waiting
    /// count) nor the list of departments a broker with one sends after `BemVindo`. Updates are
    /// coalesced per tick, so how many arrive is not fixed; what else arrives, and in what
    /// order, is.
    pub async fn proximo_evento(&mut self) -> DoBroker {
        loop {
            match self.proximo().await {
                Some(
                    DoBroker::Fila { .. }
                    | DoBroker::Espera { .. }
                    | DoBroker::Departamentos { .. },
                ) => continue,
                Some(quadro) => return quadro,
                None => panic!("{}: conexão fechada antes do próximo evento", self.nome),
            }
        }
    }

    /// Waits until the customer is told it is at `posicao`, failing if anything other than a
    /// position update (or the list of departments) arrives first.
    pub async fn esperar_posicao(&mut self, posicao: u32) {
        loop {
            match self.proximo().await {
                Some(DoBroker::Fila { posicao: p, .. }) if p == posicao => return,
                Some(DoBroker::Fila { .. } | DoBroker::Departamentos { .. }) => continue,
                outro => panic!(
                    "{}: esperava a posição {posicao}, chegou {outro:?}",
                    self.nome
                ),
            }
        }
    }

    /// (Agents) waits for the history's `Anteriores` and returns it (the chat it is about, and
    /// the earlier conversations), failing if anything but a status update arrives first.
    pub async fn esperar_anteriores(&mut self) -> (u64, Vec<Anterior>) {
        loop {
            if let Some(anteriores) = self.anteriores.pop_front() {
                return anteriores;
            }
            let quadro = match tokio::time::timeout(PACIENCIA, self.conexao.eventos.next()).await {
                Ok(Some(Ok(quadro))) => quadro,
                outro => panic!("{}: esperava Anteriores: {outro:?}", self.nome),
            };
            match quadro {
                DoBroker::Anteriores {
                    conversa,
                    conversas,
                } => return (conversa, conversas),
                DoBroker::Fila { .. } | DoBroker::Espera { .. } | DoBroker::Confirmada { .. } => {}
                outro => panic!("{}: esperava Anteriores, chegou {outro:?}", self.nome),
            }
        }
    }

    /// Waits for the start of a chat with `com` and returns the conversation id.
    pub async fn esperar_conexao_com(&mut self, com: &str) -> u64 {
        match self.proximo_evento().await {
            DoBroker::Conectado {
                com: nome,
                conversa,
                ..
            } if nome == com => conversa,
            outro => panic!(
                "{}: esperava conversar com {com}, chegou {outro:?}",
                self.nome
            ),
        }
    }

    /// Waits until the agent is told that `clientes` customers wait in its departments,
    /// failing if anything but a status update arrives first.
    pub async fn esperar_espera(&mut self, clientes: u32) {
        loop {
            match self.proximo().await {
                Some(DoBroker::Espera { clientes: c }) if c == clientes => return,
                Some(DoBroker::Espera { .. } | DoBroker::Fila { .. }) => continue,
                outro => panic!(
                    "{}: esperava {clientes} clientes na fila, chegou {outro:?}",
                    self.nome
                ),
            }
        }
    }

    /// Waits until told that the chat partner's connection is up (`true`) or down, failing if
    /// a chat line or an end arrives first.
    pub async fn esperar_parceiro(&mut self, conectado: bool) {
        while self.parceiro_conectado != Some(conectado) {
            let quadro = match tokio::time::timeout(PACIENCIA, self.conexao.eventos.next()).await {
                Ok(Some(Ok(quadro))) => quadro,
                outro => panic!("{}: esperava notícia do parceiro: {outro:?}", self.nome),
            };
            match quadro {
                DoBroker::Parceiro { conectado, .. } => self.parceiro_conectado = Some(conectado),
                DoBroker::Anteriores {
                    conversa,
                    conversas,
                } => self.anteriores.push_back((conversa, conversas)),
                DoBroker::Fila { .. } | DoBroker::Espera { .. } | DoBroker::Confirmada { .. } => {}
                outro => panic!(
                    "{}: esperava notícia do parceiro, chegou {outro:?}",
                    self.nome
                ),
            }
        }
    }

    /// Waits for a chat line from `de` saying `texto` (in whichever chat).
    pub async fn esperar_mensagem(&mut self, de: &str, texto: &str) {
        match self.proximo_evento().await {
            DoBroker::Mensagem {
                de: quem,
                texto: dito,
                ..
            } if quem == de && dito == texto => {}
            outro => panic!("{}: esperava [{de}] {texto}, chegou {outro:?}", self.nome),
        }
    }

    /// Waits for a chat line from `de` saying `texto` in the chat `conversa`.
    pub async fn esperar_mensagem_em(&mut self, conversa: u64, de: &str, texto: &str) {
        let esperado = DoBroker::Mensagem {
            conversa,
            de: de.into(),
            texto: texto.into(),
        };
        let chegou = self.proximo_evento().await;
        assert_eq!(chegou, esperado, "{}: mensagem errada", self.nome);
    }

    /// Waits for the end of a chat (or of the session), with the given reason.
    pub async fn esperar_fim(&mut self, motivo: MotivoFim) {
        match self.proximo_evento().await {
            DoBroker::Fim { motivo: m, .. } if m == motivo => {}
            outro => panic!("{}: esperava o fim {motivo:?}, chegou {outro:?}", self.nome),
        }
    }

    /// Waits until the broker closes the connection, failing if any frame but a status update
    /// arrives first.
    pub async fn esperar_fechamento(&mut self) {
        loop {
            match self.proximo().await {
                None => return,
                Some(
                    DoBroker::Fila { .. } | DoBroker::Espera { .. } | DoBroker::Anteriores { .. },
                ) => continue,
                Some(outro) => panic!("{}: esperava o fechamento, chegou {outro:?}", self.nome),
            }
        }
    }
}

/// Waits until two participants are both told they now chat with each other; returns the
/// conversation id, which must be the same on both sides.
pub async fn esperar_par(um: &mut Participante, outro: &mut Participante) -> u64 {
    let conversa = um.esperar_conexao_com(&outro.nome).await;
    let do_outro = outro.esperar_conexao_com(&um.nome).await;
    assert_eq!(
        conversa, do_outro,
        "os dois lados viram conversas diferentes"
    );
    conversa
}

/// A chatting pair (Ana and her agent Yuri), kept beside whatever a test does to the broker to
/// show that it does not reach them: every round trip must still arrive, in order.
pub struct Par {
    /// The customer, Ana.
    pub cliente: Participante,
    /// The agent, Yuri.
    pub atendente: Participante,
    /// Round trips so far.
    rodada: usize,
}

impl Par {
    /// Connects Yuri, then Ana, in `departamento`, and waits until they are paired.
    pub async fn formar(endereco: SocketAddr, departamento: &str) -> Par {
        let mut atendente = Participante::atendente(endereco, "Yuri", &[departamento]).await;
        let mut cliente = Participante::cliente(endereco, "Ana", departamento).await;
        esperar_par(&mut cliente, &mut atendente).await;
        Par {
            cliente,
            atendente,
            rodada: 0,
        }
    }

    /// One more round trip: a question from Ana, an answer from Yuri.
    pub async fn conversar(&mut self) {
        self.rodada += 1;
        let pergunta = format!("pergunta {}", self.rodada);
        self.cliente.dizer(&pergunta).await;
        self.atendente.esperar_mensagem("Ana", &pergunta).await;
        let resposta = format!("resposta {}", self.rodada);
        self.atendente.dizer(&resposta).await;
        self.cliente.esperar_mensagem("Yuri", &resposta).await;
    }
}

/// The customer's route (`tomada`) goes down; its agent hears of it and ends the chat, and is
/// told the chat ended: the customer is now a tombstone that only its resume can reach.
pub async fn encerrar_com_o_cliente_fora(atendente: &mut Participante, tomada: &Tomada) {
    tomada.derrubar();
    atendente.esperar_parceiro(false).await;
    atendente.encerrar(atendente.conversa).await;
    // The agent hears the end only once it is stored (with the journal on).
    atendente
        .esperar_fim(proto::MotivoFim::AtendenteEncerrou)
        .await;
}

/// Builds the apps (`cliente`, `atendente`, and `broker` for its panel and reports) with the
/// cargo that runs the test, and returns the folder their binaries are in.
pub fn construir_apps() -> std::path::PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let raiz = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let saida = std::process::Command::new(cargo)
        .args(["build", "-p", "cliente", "-p", "atendente", "-p", "broker"])
        .current_dir(&raiz)
        .output()
        .expect("cargo runs");
    assert!(
        saida.status.success(),
        "não foi possível construir os apps:\n{}",
        String::from_utf8_lossy(&saida.stderr)
    );
    // A test runs from target/<perfil>/deps; the binaries are in target/<perfil>.
    let teste = std::env::current_exe().expect("the test knows where it is");
    teste
        .parent()
        .and_then(|deps| deps.parent())
        .expect("the test runs from target/<perfil>/deps")
        .to_path_buf()
}

/// A peer that writes raw bytes and reads broker frames: for bad input.
pub struct Bruto {
    /// The framed connection, for reading the broker's answers.
    quadros: Quadros<TcpStream, DoBroker, ParaBroker>,
}

impl Bruto {
    /// Opens a TCP connection and sends nothing yet.
    pub async fn conectar(endereco: SocketAddr) -> Bruto {
        Bruto::de(TcpStream::connect(endereco).await.expect("connects"))
    }

    /// Wraps a connection that is already open.
    pub fn de(socket: TcpStream) -> Bruto {
        Bruto {
            quadros: enquadrar(socket, TAMANHO_MAXIMO_QUADRO),
        }
    }

    /// Writes bytes as they are.
    pub async fn escrever(&mut self, bytes: &[u8]) {
        let socket = self.quadros.get_mut().get_mut();
        socket.write_all(bytes).await.expect("writes");
        socket.flush().await.expect("flushes");
    }

    /// Sends a well-formed frame.
    pub async fn enviar(&mut self, quadro: ParaBroker) {
        self.quadros.send(quadro).await.expect("sends");
    }

    /// The next frame from the broker, `None` once it closed the connection (or reset it).
    pub async fn proximo(&mut self) -> Option<DoBroker> {
        match tokio::time::timeout(PACIENCIA, self.quadros.next()).await {
            Ok(Some(Ok(quadro))) => Some(quadro),
            Ok(Some(Err(_)) | None) => None,
            Err(_) => panic!("o broker não respondeu a tempo"),
        }
    }
}

/// Copies one direction of a relayed link until either side closes; while `congelada`, what is
/// read is counted in `engolidos` and thrown away.
async fn repassar(
    mut de: tokio::net::tcp::OwnedReadHalf,
    mut para: tokio::net::tcp::OwnedWriteHalf,
    congelada: std::sync::Arc<std::sync::atomic::AtomicBool>,
    engolidos: std::sync::Arc<std::sync::atomic::AtomicUsize>,
) {
    use tokio::io::AsyncReadExt;
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let lidos = match de.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(lidos) => lidos,
        };
        if congelada.load(std::sync::atomic::Ordering::SeqCst) {
            engolidos.fetch_add(lidos, std::sync::atomic::Ordering::SeqCst);
            continue;
        }
        if para.write_all(&buffer[..lidos]).await.is_err() {
            break;
        }
    }
    let _ = para.shutdown().await;
}

/// A TCP relay between peers and a broker whose links a test can cut at will, as a tunnel or a
/// flaky Wi-Fi would: both ends see their connection drop, and new connections go through as
/// long as the relay accepts them.
pub struct Tomada {
    /// Where peers connect.
    endereco: SocketAddr,
    /// The links relayed now.
    elos: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
    /// Whether new connections go through (otherwise they are closed at once).
    aberta: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// Whether the links swallow what they read instead of passing it on (a dead route that
    /// still accepts writes).
    congelada: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// Bytes swallowed while frozen.
    engolidos: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    /// The accept loop.
    aceitador: tokio::task::JoinHandle<()>,
}

impl Tomada {
    /// Starts relaying `127.0.0.1:0` to `broker`.
    pub async fn abrir(broker: SocketAddr) -> Tomada {
        let ouvinte = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binds");
        let endereco = ouvinte.local_addr().expect("has an address");
        let elos = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let registro = std::sync::Arc::clone(&elos);
        let aberta = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let deixa_passar = std::sync::Arc::clone(&aberta);
        let congelada = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let engolidos = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (congela, engole) = (congelada.clone(), engolidos.clone());
        let aceitador = tokio::spawn(async move {
            while let Ok((peer, _)) = ouvinte.accept().await {
                if !deixa_passar.load(std::sync::atomic::Ordering::SeqCst) {
                    continue;
                }
                let congelada = std::sync::Arc::clone(&congela);
                let engolidos = std::sync::Arc::clone(&engole);
                let elo = tokio::spawn(async move {
                    if let Ok(destino) = TcpStream::connect(broker).await {
                        let _ = destino.set_nodelay(true);
                        let _ = peer.set_nodelay(true);
                        let (de_peer, para_peer) = peer.into_split();
                        let (do_broker, para_broker) = destino.into_split();
                        let ida =
                            repassar(de_peer, para_broker, congelada.clone(), engolidos.clone());
                        let volta = repassar(do_broker, para_peer, congelada, engolidos);
                        tokio::join!(ida, volta);
                    }
                });
                registro
                    .lock()
                    .expect("not poisoned")
                    .push(elo.abort_handle());
            }
        });
        Tomada {
            endereco,
            elos,
            aberta,
            congelada,
            engolidos,
            aceitador,
        }
    }

    /// Where peers connect to reach the broker through the relay.
    pub fn endereco(&self) -> SocketAddr {
        self.endereco
    }

    /// Cuts every link relayed now (both sockets close); new connections still go through, and
    /// are not frozen.
    pub fn cortar(&self) {
        self.congelada
            .store(false, std::sync::atomic::Ordering::SeqCst);
        for elo in self.elos.lock().expect("not poisoned").drain(..) {
            elo.abort();
        }
    }

    /// Cuts every link and lets no new connection through until [`Tomada::religar`]: the broker
    /// is out of reach for a while.
    pub fn derrubar(&self) {
        self.aberta
            .store(false, std::sync::atomic::Ordering::SeqCst);
        self.cortar();
    }

    /// Freezes every link: what either side writes is accepted and thrown away, and nothing
    /// closes, as on a route that died without a word. [`Tomada::cortar`] ends it.
    pub fn congelar(&self) {
        self.congelada
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Bytes thrown away by frozen links so far.
    pub fn engolidos(&self) -> usize {
        self.engolidos.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Lets new connections through again.
    pub fn religar(&self) {
        self.aberta.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Cuts every link and accepts no more: the broker is out of reach for good.
    pub fn desligar(&self) {
        self.aceitador.abort();
        self.cortar();
    }
}
