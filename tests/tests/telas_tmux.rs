//! The full-screen apps end to end, in real terminals: `cliente` and `atendente` run under tmux
//! against a real broker, driven with send-keys and read with capture-pane, as a person would
//! use them.
//!
//! Needs tmux (CI installs it). The two binaries are built by the test itself, with the same
//! cargo that runs it.

use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use broker::Config;
use tests::{config_de_teste, construir_apps, iniciar_broker, iniciar_broker_com};

/// How long a screen may take to show what is expected before the test fails.
const PACIENCIA: Duration = Duration::from_secs(15);

/// A private tmux server, killed when the test ends (even when it fails).
struct Tmux {
    /// The socket name that keeps this server apart from any other.
    soquete: String,
}

impl Tmux {
    fn new() -> Tmux {
        // No `start-server` first: a server with no session exits at once, and a command that
        // reaches it as it goes fails with "server exited unexpectedly". The first
        // `new-session` starts the server; `-f /dev/null` on every command keeps any user
        // configuration out of it.
        // One server per test: `cargo test` runs a file's tests side by side in one process.
        static PROXIMO: AtomicUsize = AtomicUsize::new(0);
        let numero = PROXIMO.fetch_add(1, Ordering::Relaxed);
        Tmux {
            soquete: format!("fila-teste-{}-{numero}", std::process::id()),
        }
    }

    fn rodar(&self, argumentos: &[&str]) -> Output {
        // -u and a UTF-8 locale: the screens hold accents and emoji whatever the machine's
        // locale is.
        let saida = Command::new("tmux")
            .arg("-u")
            .arg("-L")
            .arg(&self.soquete)
            .args(["-f", "/dev/null"])
            .args(argumentos)
            .env("TERM", "xterm-256color")
            .env("LANG", "C.UTF-8")
            .env("LC_ALL", "C.UTF-8")
            .output()
            .expect("tmux is installed (CI installs it)");
        assert!(
            saida.status.success(),
            "tmux {argumentos:?} falhou: {}",
            String::from_utf8_lossy(&saida.stderr)
        );
        saida
    }

    /// Opens a window running `comando`, 80 columns by 20 rows.
    fn abrir(&self, nome: &str, comando: &str) {
        self.rodar(&[
            "new-session",
            "-d",
            "-s",
            nome,
            "-x",
            "80",
            "-y",
            "20",
            comando,
        ]);
        self.rodar(&["set-option", "-t", nome, "remain-on-exit", "on"]);
    }

    /// Types text as is (accents and all).
    fn digitar(&self, nome: &str, texto: &str) {
        self.rodar(&["send-keys", "-t", nome, "-l", texto]);
    }

    /// Presses a key by tmux's name for it (`Enter`, `Left`, ...).
    fn tecla(&self, nome: &str, tecla: &str) {
        self.rodar(&["send-keys", "-t", nome, tecla]);
    }

    fn tela(&self, nome: &str) -> String {
        let saida = self.rodar(&["capture-pane", "-p", "-t", nome]);
        String::from_utf8_lossy(&saida.stdout).into_owned()
    }

    /// Waits until the screen satisfies `condicao`, and returns it.
    fn esperar(&self, nome: &str, o_que: &str, condicao: impl Fn(&str) -> bool) -> String {
        let inicio = Instant::now();
        loop {
            let tela = self.tela(nome);
            if condicao(&tela) {
                return tela;
            }
            if inicio.elapsed() > PACIENCIA {
                panic!("a tela de {nome} não mostrou {o_que}:\n{tela}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until the screen shows `texto`.
    fn esperar_texto(&self, nome: &str, texto: &str) -> String {
        self.esperar(nome, texto, |tela| tela.contains(texto))
    }

    /// Whether the program in the window has exited.
    fn terminou(&self, nome: &str) -> bool {
        let saida = self.rodar(&["display-message", "-p", "-t", nome, "#{pane_dead}"]);
        String::from_utf8_lossy(&saida.stdout).trim() == "1"
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.soquete, "kill-server"])
            .output();
    }
}

/// The status line and the input line are the last two rows of the screen.
fn ultimas_linhas(tela: &str) -> (String, String) {
    let linhas: Vec<&str> = tela.trim_end_matches('\n').lines().collect();
    let entrada = linhas.last().copied().unwrap_or("").trim_end().to_owned();
    let status = linhas
        .len()
        .checked_sub(2)
        .map(|i| linhas[i].trim_end().to_owned())
        .unwrap_or_default();
    (status, entrada)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cliente_e_atendente_em_terminais_reais() {
    let pasta = construir_apps();
    let broker = iniciar_broker().await;
    let endereco = broker.endereco();
    let tmux = Tmux::new();
    let cliente = pasta.join("cliente");
    let atendente = pasta.join("atendente");

    // A customer waits and sees its place.
    tmux.abrir(
        "cliente",
        &format!(
            "{} --servidor {endereco} --nome 'Ana Júlia'",
            cliente.display()
        ),
    );
    let tela = tmux.esperar_texto("cliente", "Você é o próximo da fila");
    assert!(
        tela.contains("Ana Júlia · cliente · geral · ● conectado"),
        "{tela}"
    );

    // An agent appears and they are paired.
    tmux.abrir(
        "atendente",
        &format!(
            "{} --servidor {endereco} --nome Yuri --departamentos geral,vendas --token {}",
            atendente.display(),
            tests::TOKEN_DE_TESTE
        ),
    );
    tmux.esperar_texto("atendente", "Atendendo Ana Júlia (geral, esperou");
    tmux.esperar_texto("cliente", "Conversando com Yuri");

    // The customer is halfway through a line when the agent's text arrives: the line stays.
    tmux.digitar("cliente", "Minha conexão caiu depois da atualiz");
    tmux.esperar("cliente", "o texto digitado", |tela| {
        ultimas_linhas(tela).1 == "> Minha conexão caiu depois da atualiz"
    });
    tmux.digitar(
        "atendente",
        "Olá! Vou verificar sua conexão, só um instante ☕",
    );
    tmux.tecla("atendente", "Enter");
    let tela = tmux.esperar_texto(
        "cliente",
        "Yuri: Olá! Vou verificar sua conexão, só um instante ☕",
    );
    assert_eq!(
        ultimas_linhas(&tela),
        (
            " Conversando com Yuri".to_owned(),
            "> Minha conexão caiu depois da atualiz".to_owned()
        ),
        "a mensagem que chegou não pode estragar a linha sendo digitada:\n{tela}"
    );
    tmux.digitar("cliente", "ação de ontem. Obrigada!");
    tmux.tecla("cliente", "Enter");
    tmux.esperar_texto(
        "atendente",
        "Ana Júlia: Minha conexão caiu depois da atualização de ontem. Obrigada!",
    );
    let tela = tmux.esperar("cliente", "a linha de entrada vazia", |tela| {
        ultimas_linhas(tela).1 == ">"
    });
    assert!(
        tela.contains("Ana Júlia: Minha conexão caiu depois da atualização de ontem."),
        "{tela}"
    );

    // A long text arriving at once (as a paste does in a terminal without bracketed paste)
    // goes out whole with the Enter that follows it, without waiting for another key.
    let longo = "palavra ".repeat(400) + "FIMDOTEXTO";
    tmux.digitar("cliente", &longo);
    tmux.tecla("cliente", "Enter");
    tmux.esperar_texto("atendente", "FIMDOTEXTO");
    tmux.esperar("cliente", "a linha de entrada vazia", |tela| {
        ultimas_linhas(tela).1 == ">"
    });

    // The customer leaves: its app closes, and the agent sees the end and is free again.
    tmux.digitar("cliente", "/sair");
    tmux.tecla("cliente", "Enter");
    tmux.esperar_texto("atendente", "O cliente encerrou o atendimento");
    let tela = tmux.esperar("atendente", "o atendente livre", |tela| {
        ultimas_linhas(tela)
            .0
            .starts_with(" Livre, aguardando clientes")
    });
    assert!(tela.contains("● conectado"), "{tela}");
    let inicio = Instant::now();
    while !tmux.terminou("cliente") {
        assert!(
            inicio.elapsed() < PACIENCIA,
            "o cliente não fechou depois de /sair"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    broker.parar().await;
}

/// The customer's side in a real terminal: the broker's departments as a menu, nobody online,
/// a question typed while waiting (shown as sent, and the agent's first lines), and the grade.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cliente_escolhe_o_departamento_escreve_na_fila_e_avalia() {
    let pasta = construir_apps();
    let broker = iniciar_broker_com(Config {
        departamentos: vec!["geral".into(), "vendas".into()],
        prazo_avaliacao: Duration::from_secs(120),
        ..config_de_teste()
    })
    .await;
    let endereco = broker.endereco();
    let tmux = Tmux::new();
    tmux.abrir(
        "cliente",
        &format!(
            "{} --servidor {endereco} --nome Bia",
            pasta.join("cliente").display()
        ),
    );
    tmux.esperar_texto("cliente", "2. vendas");
    tmux.digitar("cliente", "3");
    tmux.tecla("cliente", "Enter");
    tmux.esperar_texto("cliente", "Não há essa opção");
    tmux.digitar("cliente", "2");
    tmux.tecla("cliente", "Enter");
    let tela = tmux.esperar_texto("cliente", "Nenhum atendente online em vendas no momento");
    assert!(tela.contains("Bia · cliente · vendas"), "{tela}");
    assert_eq!(
        ultimas_linhas(&tela).0,
        " Você é o próximo da fila · nenhum atendente online"
    );
    tmux.digitar("cliente", "Quero cancelar minha assinatura");
    tmux.tecla("cliente", "Enter");
    tmux.esperar_texto("cliente", "Bia: Quero cancelar minha assinatura");

    tmux.abrir(
        "atendente",
        &format!(
            "{} --servidor {endereco} --nome Yuri --departamentos vendas --token {}",
            pasta.join("atendente").display(),
            tests::TOKEN_DE_TESTE
        ),
    );
    let tela = tmux.esperar_texto("atendente", "Bia: Quero cancelar minha assinatura");
    assert!(
        tela.contains("Escrito pelo cliente enquanto esperava:"),
        "{tela}"
    );
    tmux.digitar("atendente", "/fim");
    tmux.tecla("atendente", "Enter");
    let tela = tmux.esperar_texto("cliente", "Dê uma nota de 1 a 5");
    assert_eq!(
        ultimas_linhas(&tela).0,
        " Dê uma nota de 1 a 5 ao atendimento"
    );
    tmux.digitar("cliente", "4");
    tmux.tecla("cliente", "Enter");
    tmux.esperar_texto("cliente", "Obrigado pela sua nota!");
    broker.parar().await;
}
