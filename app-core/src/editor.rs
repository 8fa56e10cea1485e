//! The input line of the full-screen apps: what is being typed, where the cursor is, and the
//! history of what was sent.
//!
//! The cursor moves by grapheme (so an accented letter typed as two code points, or an emoji
//! with modifiers, is one step), and [`Editor::linhas`] wraps the text to a width measured in
//! terminal columns, telling where the cursor lands.

use unicode_segmentation::UnicodeSegmentation;
use unicode_width::UnicodeWidthStr;

/// Most lines kept in the history.
const HISTORICO_MAXIMO: usize = 200;

/// The line being typed, with its cursor and history.
#[derive(Debug, Default, Clone)]
pub struct Editor {
    /// The text typed so far.
    texto: String,
    /// The cursor, as a byte index into `texto` on a grapheme boundary.
    cursor: usize,
    /// Lines sent before, oldest first.
    historico: Vec<String>,
    /// While browsing the history: the index shown, and the line that was being typed.
    navegando: Option<(usize, String)>,
}

impl Editor {
    /// The text typed so far.
    pub fn texto(&self) -> &str {
        &self.texto
    }

    /// Inserts text at the cursor (line breaks become spaces: Enter sends).
    pub fn inserir(&mut self, texto: &str) {
        let limpo: String = texto
            .chars()
            .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
            .filter(|c| !c.is_control() || *c == '\t')
            .collect();
        self.texto.insert_str(self.cursor, &limpo);
        self.cursor += limpo.len();
        // The cursor may now sit inside a grapheme that the insertion completed (a combining
        // accent after its letter): move it to the end of that grapheme.
        self.cursor = self.limite_seguinte_ou_igual(self.cursor);
    }

    /// Deletes the grapheme before the cursor (Backspace).
    pub fn apagar_atras(&mut self) {
        let inicio = self.limite_anterior(self.cursor);
        self.texto.replace_range(inicio..self.cursor, "");
        self.cursor = inicio;
    }

    /// Deletes everything before the cursor (Ctrl-U, as in a shell).
    pub fn apagar_ate_o_inicio(&mut self) {
        self.texto.replace_range(..self.cursor, "");
        self.cursor = 0;
    }

    /// Deletes the grapheme under the cursor (Delete).
    pub fn apagar_frente(&mut self) {
        let fim = self.limite_seguinte(self.cursor);
        self.texto.replace_range(self.cursor..fim, "");
    }

    /// Moves the cursor one grapheme left.
    pub fn esquerda(&mut self) {
        self.cursor = self.limite_anterior(self.cursor);
    }

    /// Moves the cursor one grapheme right.
    pub fn direita(&mut self) {
        self.cursor = self.limite_seguinte(self.cursor);
    }

    /// Moves the cursor to the start (Home).
    pub fn inicio(&mut self) {
        self.cursor = 0;
    }

    /// Moves the cursor to the end (End).
    pub fn fim(&mut self) {
        self.cursor = self.texto.len();
    }

    /// Shows the previous line of the history (Up).
    pub fn anterior(&mut self) {
        let indice = match &self.navegando {
            Some((0, _)) => return,
            Some((i, _)) => i - 1,
            None if self.historico.is_empty() => return,
            None => {
                let rascunho = std::mem::take(&mut self.texto);
                self.navegando = Some((self.historico.len(), rascunho));
                self.historico.len() - 1
            }
        };
        if let Some((atual, _)) = &mut self.navegando {
            *atual = indice;
        }
        self.mostrar(self.historico[indice].clone());
    }

    /// Shows the next line of the history, or what was being typed (Down).
    pub fn proximo(&mut self) {
        let Some((indice, _)) = &self.navegando else {
            return;
        };
        let indice = indice + 1;
        if indice < self.historico.len() {
            if let Some((atual, _)) = &mut self.navegando {
                *atual = indice;
            }
            self.mostrar(self.historico[indice].clone());
        } else if let Some((_, rascunho)) = self.navegando.take() {
            self.mostrar(rascunho);
        }
    }

    /// Takes the line out to be sent, and remembers it in the history.
    pub fn enviar(&mut self) -> String {
        let linha = std::mem::take(&mut self.texto);
        self.cursor = 0;
        self.navegando = None;
        if !linha.trim().is_empty() && self.historico.last() != Some(&linha) {
            self.historico.push(linha.clone());
            if self.historico.len() > HISTORICO_MAXIMO {
                self.historico.remove(0);
            }
        }
        linha
    }

    /// The text wrapped to `largura` columns (at least one line), and the cursor's (column,
    /// line) in it. Wrapping is by grapheme, so every character stays where it was typed.
    pub fn linhas(&self, largura: usize) -> (Vec<String>, (usize, usize)) {
        let largura = largura.max(2);
        let mut linhas = vec![String::new()];
        let mut coluna = 0;
        let mut posicao_cursor = None;
        for (indice, grafema) in self.texto.grapheme_indices(true) {
            let largura_grafema = grafema.width();
            if coluna + largura_grafema > largura {
                linhas.push(String::new());
                coluna = 0;
            }
            if indice == self.cursor {
                posicao_cursor = Some((coluna, linhas.len() - 1));
            }
            linhas.last_mut().expect("never empty").push_str(grafema);
            coluna += largura_grafema;
        }
        let cursor = posicao_cursor.unwrap_or_else(|| {
            if coluna >= largura {
                linhas.push(String::new());
                (0, linhas.len() - 1)
            } else {
                (coluna, linhas.len() - 1)
            }
        });
        (linhas, cursor)
    }

    fn mostrar(&mut self, texto: String) {
        self.texto = texto;
        self.cursor = self.texto.len();
    }

    fn limite_anterior(&self, de: usize) -> usize {
        self.texto[..de]
            .grapheme_indices(true)
            .next_back()
            .map_or(0, |(i, _)| i)
    }

    fn limite_seguinte(&self, de: usize) -> usize {
        self.texto[de..]
            .graphemes(true)
            .next()
            .map_or(de, |g| de + g.len())
    }

    fn limite_seguinte_ou_igual(&self, de: usize) -> usize {
        let mut fim = 0;
        for (indice, grafema) in self.texto.grapheme_indices(true) {
            fim = indice + grafema.len();
            if fim >= de {
                return if indice == de { de } else { fim };
            }
        }
        fim.max(de.min(self.texto.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digitar(editor: &mut Editor, texto: &str) {
        for c in texto.chars() {
            editor.inserir(&c.to_string());
        }
    }

    #[test]
    fn acentos_e_emoji_andam_por_grafema() {
        let mut editor = Editor::default();
        digitar(&mut editor, "ação 👍🏽 ok");
        editor.esquerda();
        editor.esquerda();
        editor.esquerda();
        editor.apagar_atras(); // the thumbs-up with its skin tone, as one
        assert_eq!(editor.texto(), "ação  ok");
        editor.inicio();
        editor.direita();
        editor.direita();
        editor.apagar_frente(); // the ã
        assert_eq!(editor.texto(), "aço  ok");
        editor.fim();
        digitar(&mut editor, "!");
        assert_eq!(editor.texto(), "aço  ok!");
    }

    #[test]
    fn ctrl_u_apaga_o_que_vem_antes_do_cursor() {
        let mut editor = Editor::default();
        digitar(&mut editor, "oi, ação 👍");
        editor.esquerda();
        editor.esquerda();
        editor.apagar_ate_o_inicio();
        assert_eq!(editor.texto(), " 👍");
        digitar(&mut editor, "ok");
        assert_eq!(editor.texto(), "ok 👍");
    }

    #[test]
    fn acento_combinado_e_um_so_passo() {
        let mut editor = Editor::default();
        digitar(&mut editor, "e\u{301}x"); // é as e + combining acute
        editor.esquerda();
        editor.esquerda();
        assert_eq!(editor.linhas(10).1, (0, 0));
        editor.apagar_frente();
        assert_eq!(editor.texto(), "x");
    }

    #[test]
    fn historico_com_setas() {
        let mut editor = Editor::default();
        digitar(&mut editor, "primeira");
        assert_eq!(editor.enviar(), "primeira");
        digitar(&mut editor, "segunda");
        editor.enviar();
        digitar(&mut editor, "rascunho");
        editor.anterior();
        assert_eq!(editor.texto(), "segunda");
        editor.anterior();
        assert_eq!(editor.texto(), "primeira");
        editor.anterior();
        assert_eq!(editor.texto(), "primeira");
        editor.proximo();
        assert_eq!(editor.texto(), "segunda");
        editor.proximo();
        assert_eq!(editor.texto(), "rascunho");
    }

    #[test]
    fn quebra_por_largura_com_caracteres_largos() {
        let mut editor = Editor::default();
        digitar(&mut editor, "abcd語語e");
        let (linhas, cursor) = editor.linhas(5);
        // A full last line puts the cursor at the start of a new one.
        assert_eq!(linhas, vec!["abcd", "語語e", ""]);
        assert_eq!(cursor, (0, 2));
        editor.apagar_atras();
        assert_eq!(
            editor.linhas(5),
            (vec!["abcd".into(), "語語".into()], (4, 1))
        );
        editor.inicio();
        assert_eq!(editor.linhas(5).1, (0, 0));
        let (linhas, cursor) = Editor::default().linhas(5);
        assert_eq!((linhas, cursor), (vec![String::new()], (0, 0)));
    }

    #[test]
    fn colar_quebra_de_linha_vira_espaco() {
        let mut editor = Editor::default();
        editor.inserir("uma\nduas\u{1b}");
        assert_eq!(editor.texto(), "uma duas");
    }
}
