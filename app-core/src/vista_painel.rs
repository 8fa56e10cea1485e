//! How the supervisor's panel looks (`broker painel`): per department the line, the longest
//! wait, the estimate, the agents and the day's service level; then every agent with what it is
//! doing, for how long, and with whom. Pure drawing of a [`Painel`], so the screen test needs
//! no broker.

use proto::{EstadoAtendente, Painel, PainelAtendente, PainelDepartamento};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table};

/// What the panel knows besides the broker's last panel.
#[derive(Debug, Clone, Default)]
pub struct Quadro {
    /// The broker's address, for the header.
    pub servidor: String,
    /// The last panel received, if any.
    pub painel: Option<Painel>,
    /// The local time it arrived (HH:MM:SS).
    pub hora: String,
    /// Whether the connection is down and the panel is trying again (the figures are old).
    pub reconectando: bool,
}

/// Draws the whole panel.
pub fn desenhar(frame: &mut Frame, quadro: &Quadro) {
    let vazio = Painel::default();
    let painel = quadro.painel.as_ref().unwrap_or(&vazio);
    // The lines' box fits its departments (borders and header take 3 rows), up to two thirds
    // of the screen; the agents get the rest.
    let area = frame.area();
    let filas = u16::try_from(painel.departamentos.len())
        .unwrap_or(u16::MAX)
        .saturating_add(3)
        .min(area.height.saturating_sub(2) * 2 / 3);
    let [topo, linhas, atendentes, rodape] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(filas),
        Constraint::Fill(1),
        Constraint::Length(1),
    ])
    .areas(area);
    frame.render_widget(Paragraph::new(cabecalho(quadro)), topo);
    frame.render_widget(tabela_de_filas(painel), linhas);
    frame.render_widget(tabela_de_atendentes(painel), atendentes);
    frame.render_widget(
        Paragraph::new("q ou Esc: sair · atualiza a cada segundo"),
        rodape,
    );
}

/// "Painel · 127.0.0.1:7878 · meta 20s · 14:02:07".
fn cabecalho(quadro: &Quadro) -> Line<'static> {
    let meta = quadro
        .painel
        .as_ref()
        .map(|p| match p.omitidos {
            0 => format!(" · meta {}", meta(p.meta_ms)),
            n => format!(" · meta {} · {n} omitidos (não cabem)", meta(p.meta_ms)),
        })
        .unwrap_or_default();
    let estado = match (&quadro.painel, quadro.reconectando) {
        (_, true) => " · reconectando (números de antes)".to_owned(),
        (None, false) => " · aguardando o broker".to_owned(),
        (Some(_), false) => format!(" · {}", quadro.hora),
    };
    Line::styled(
        format!("Painel · {}{meta}{estado}", quadro.servidor),
        Style::new().add_modifier(Modifier::BOLD),
    )
}

fn tabela_de_filas(painel: &Painel) -> Table<'static> {
    let nivel = format!("Nível ({})", meta(painel.meta_ms));
    let titulos = [
        "Departamento",
        "Na fila",
        "Maior espera",
        "Estimativa",
        "Online",
        "Em conversa",
        "Pausados",
        "Conversas",
        "Chegaram",
        "Atendidos",
        "Abandonos",
        nivel.as_str(),
    ]
    .map(str::to_owned);
    let linhas = painel.departamentos.iter().map(linha_de_fila);
    let mut larguras = [7, 12, 10, 6, 11, 8, 9, 8, 9, 9, 14]
        .map(Constraint::Length)
        .to_vec();
    // The names take whatever width is left, 12 columns at least.
    larguras.insert(0, Constraint::Min(12));
    Table::new(linhas, larguras)
        .header(Row::new(titulos).style(Style::new().add_modifier(Modifier::BOLD)))
        .block(
            Block::bordered()
                .title(" Filas (chegaram, atendidos, abandonos e nível: hoje, desde 00:00 UTC) "),
        )
}

fn linha_de_fila(linha: &PainelDepartamento) -> Row<'static> {
    let espera = match linha.aguardando {
        0 => "—".to_owned(),
        _ => duracao(linha.maior_espera_ms),
    };
    let estimativa = linha
        .estimativa_s
        .map_or("—".to_owned(), |s| duracao(u64::from(s) * 1000));
    Row::new([
        linha.nome.clone(),
        linha.aguardando.to_string(),
        espera,
        estimativa,
        linha.atendentes_online.to_string(),
        linha.atendentes_em_conversa.to_string(),
        linha.atendentes_pausados.to_string(),
        linha.conversas.to_string(),
        linha.chegadas_hoje.to_string(),
        linha.atendidos_hoje.to_string(),
        linha.abandonos_hoje.to_string(),
        nivel_de_servico(linha),
    ])
}

/// The day's service level: answered in time over customers whose wait is over, as a
/// percentage ("—" before anyone's is).
pub fn nivel_de_servico(linha: &PainelDepartamento) -> String {
    let encerradas = linha.atendidos_hoje + linha.abandonos_hoje;
    if encerradas == 0 {
        return "—".to_owned();
    }
    let porcentagem = f64::from(linha.no_prazo_hoje) * 100.0 / f64::from(encerradas);
    format!("{porcentagem:.0}% ({}/{encerradas})", linha.no_prazo_hoje)
}

fn tabela_de_atendentes(painel: &Painel) -> Table<'static> {
    let titulos = ["Atendente", "Estado", "Há", "Conversas", "Com quem"];
    let linhas = painel.atendentes.iter().map(linha_de_atendente);
    let larguras = [
        Constraint::Length(16),
        Constraint::Length(12),
        Constraint::Length(8),
        Constraint::Length(9),
        Constraint::Fill(1),
    ];
    Table::new(linhas, larguras)
        .header(Row::new(titulos).style(Style::new().add_modifier(Modifier::BOLD)))
        .block(Block::bordered().title(match painel.atendentes.len() {
            0 => " Atendentes: nenhum conectado ".to_owned(),
            n => format!(" Atendentes ({n}) "),
        }))
}

fn linha_de_atendente(atendente: &PainelAtendente) -> Row<'static> {
    let com_quem: Vec<String> = atendente
        .conversas
        .iter()
        .map(|c| format!("{} #{} ({})", c.cliente, c.conversa, duracao(c.ha_ms)))
        .collect();
    Row::new([
        Cell::from(atendente.nome.clone()),
        Cell::from(nome_do_estado(atendente.estado)),
        Cell::from(duracao(atendente.ha_ms)),
        Cell::from(format!(
            "{}/{}",
            atendente.conversas.len(),
            atendente.capacidade
        )),
        Cell::from(com_quem.join(", ")),
    ])
}

/// The service-level target as given: "20s", or "1500ms" when not whole seconds.
pub fn meta(ms: u64) -> String {
    match ms % 1000 {
        0 => format!("{}s", ms / 1000),
        _ => format!("{ms}ms"),
    }
}

/// How an agent's state reads.
pub fn nome_do_estado(estado: EstadoAtendente) -> &'static str {
    match estado {
        EstadoAtendente::Livre => "livre",
        EstadoAtendente::EmConversa => "em conversa",
        EstadoAtendente::Pausado => "em pausa",
        EstadoAtendente::Ausente => "ausente",
    }
}

/// A duration as a person reads it: "45s", "3m 05s", "2h 10m".
pub fn duracao(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m", s / 3600, s / 60 % 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::PainelConversa;
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    fn painel() -> Painel {
        Painel {
            meta_ms: 20_000,
            departamentos: vec![PainelDepartamento {
                nome: "vendas".into(),
                aguardando: 3,
                maior_espera_ms: 125_000,
                estimativa_s: Some(90),
                atendentes_online: 2,
                atendentes_em_conversa: 1,
                atendentes_pausados: 1,
                conversas: 2,
                chegadas_hoje: 12,
                atendidos_hoje: 8,
                no_prazo_hoje: 6,
                abandonos_hoje: 2,
            }],
            atendentes: vec![
                PainelAtendente {
                    nome: "Yuri".into(),
                    departamentos: vec!["vendas".into()],
                    capacidade: 3,
                    estado: EstadoAtendente::EmConversa,
                    ha_ms: 61_000,
                    conversas: vec![PainelConversa {
                        conversa: 7,
                        cliente: "Ana".into(),
                        departamento: "vendas".into(),
                        ha_ms: 61_000,
                    }],
                },
                PainelAtendente {
                    nome: "Zoe".into(),
                    departamentos: vec!["vendas".into()],
                    capacidade: 1,
                    estado: EstadoAtendente::Pausado,
                    ha_ms: 3_723_000,
                    conversas: Vec::new(),
                },
            ],
            omitidos: 0,
        }
    }

    fn tela(quadro: &Quadro) -> String {
        let mut terminal = Terminal::new(TestBackend::new(130, 20)).expect("test backend");
        terminal
            .draw(|frame| desenhar(frame, quadro))
            .expect("draws");
        let buffer = terminal.backend().buffer();
        (0..buffer.area.height)
            .map(|y| {
                (0..buffer.area.width)
                    .map(|x| buffer[(x, y)].symbol().to_owned())
                    .collect::<String>()
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn a_tela_mostra_filas_atendentes_e_o_nivel_de_servico() {
        let quadro = Quadro {
            servidor: "127.0.0.1:7878".into(),
            painel: Some(painel()),
            hora: "14:02:07".into(),
            reconectando: false,
        };
        let tela = tela(&quadro);
        assert!(
            tela.contains("Painel · 127.0.0.1:7878 · meta 20s · 14:02:07"),
            "{tela}"
        );
        let vendas = tela.lines().find(|l| l.contains("vendas ")).expect("line");
        for trecho in ["3", "2m 05s", "1m 30s", "12", "8", "60% (6/10)"] {
            assert!(vendas.contains(trecho), "{trecho} em {vendas}");
        }
        let yuri = tela.lines().find(|l| l.contains("Yuri")).expect("Yuri");
        for trecho in ["em conversa", "1m 01s", "1/3", "Ana #7 (1m 01s)"] {
            assert!(yuri.contains(trecho), "{trecho} em {yuri}");
        }
        let zoe = tela.lines().find(|l| l.contains("Zoe")).expect("Zoe");
        assert!(zoe.contains("em pausa") && zoe.contains("1h 02m"), "{zoe}");
    }

    #[test]
    fn sem_conexao_a_tela_diz_que_reconecta() {
        let quadro = Quadro {
            servidor: "broker:7878".into(),
            painel: Some(painel()),
            hora: "14:02:07".into(),
            reconectando: true,
        };
        assert!(tela(&quadro).contains("reconectando (números de antes)"));
        let vazio = Quadro {
            servidor: "broker:7878".into(),
            ..Quadro::default()
        };
        assert!(tela(&vazio).contains("aguardando o broker"));
    }

    #[test]
    fn duracoes_e_nivel_de_servico() {
        assert_eq!(duracao(999), "0s");
        assert_eq!(duracao(59_999), "59s");
        assert_eq!(duracao(60_000), "1m 00s");
        assert_eq!(duracao(3_600_000), "1h 00m");
        let mut linha = PainelDepartamento::default();
        assert_eq!(nivel_de_servico(&linha), "—");
        linha.atendidos_hoje = 3;
        linha.no_prazo_hoje = 1;
        assert_eq!(nivel_de_servico(&linha), "33% (1/3)");
    }
}
