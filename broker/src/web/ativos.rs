//! The web page's files, embedded in the binary at build time from the repository's `web/`
//! folder, so that `broker --web` is all a site needs.

/// One embedded file.
pub struct Ativo {
    /// Its `Content-Type`.
    pub tipo: &'static str,
    /// Its bytes.
    pub conteudo: &'static str,
}

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// Every file, by the path it is served at: (path, `Content-Type`, bytes).
const ATIVOS: &[(&str, &str, &str)] = &[
    ("/", HTML, include_str!("../../../web/index.html")),
    ("/estilo.css", CSS, include_str!("../../../web/estilo.css")),
    ("/pagina.js", JS, include_str!("../../../web/src/pagina.js")),
    ("/sessao.js", JS, include_str!("../../../web/src/sessao.js")),
    (
        "/protocolo.js",
        JS,
        include_str!("../../../web/src/protocolo.js"),
    ),
    ("/widget.js", JS, include_str!("../../../web/src/widget.js")),
];

/// The file served at `caminho` (`/index.html` is `/`), if any.
pub fn procurar(caminho: &str) -> Option<Ativo> {
    let caminho = if caminho == "/index.html" {
        "/"
    } else {
        caminho
    };
    ATIVOS
        .iter()
        .find(|(nome, _, _)| *nome == caminho)
        .map(|&(_, tipo, conteudo)| Ativo { tipo, conteudo })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_and_its_modules_are_found_and_nothing_else() {
        assert!(procurar("/").is_some_and(|ativo| ativo.conteudo.contains("pagina.js")));
        assert!(procurar("/index.html").is_some());
        for caminho in ["/pagina.js", "/sessao.js", "/protocolo.js", "/widget.js"] {
            assert_eq!(
                procurar(caminho).map(|ativo| ativo.tipo),
                Some(JS),
                "{caminho}"
            );
        }
        assert!(procurar("/../Cargo.toml").is_none());
        assert!(procurar("/web/index.html").is_none());
    }
}
