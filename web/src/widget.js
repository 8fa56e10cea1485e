// The widget: one <script src="https://BROKER/widget.js" data-departamento="vendas"> on any
// site puts a chat bubble in the page's corner. The chat itself is the broker's page in a
// frame (so it keeps its own origin, storage and security policy); the bubble only opens and
// closes it, and remembers whether it was open across the site's page loads.
(() => {
  const script = document.currentScript;
  if (!script || window.__filaWidget) return;
  window.__filaWidget = true;
  const broker = new URL(script.src).origin;
  const departamento = script.dataset.departamento ?? '';
  const titulo = script.dataset.titulo ?? 'Fale conosco';
  const chaveAberto = 'fila.widget.aberto';
  // While a chat is open the frame is kept on every page of the site (hidden when the bubble
  // is closed), so that its connection, and the customer's place, go on.
  const chaveConversa = 'fila.widget.conversa';
  const chaveNovidade = 'fila.widget.nova';
  const guardar = (chave, valor) => {
    try {
      sessionStorage.setItem(chave, valor);
    } catch {
      // A site that forbids storage only loses the bubble's memory.
    }
  };
  const ler = (chave) => {
    try {
      return sessionStorage.getItem(chave) === '1';
    } catch {
      return false;
    }
  };

  const botao = document.createElement('button');
  botao.type = 'button';
  botao.textContent = '💬';
  botao.setAttribute('aria-label', titulo);
  botao.setAttribute('aria-expanded', 'false');
  botao.title = titulo;
  Object.assign(botao.style, {
    position: 'fixed', right: '1rem', bottom: '1rem', zIndex: '2147483646',
    width: '3.5rem', height: '3.5rem', borderRadius: '50%', border: '0',
    background: '#0b5cad', color: '#fff', fontSize: '1.6rem', cursor: 'pointer',
    boxShadow: '0 2px 8px rgba(0,0,0,.3)',
  });

  let moldura = null;
  function criarMoldura() {
    const endereco = new URL('/', broker);
    endereco.searchParams.set('widget', '1');
    if (departamento) endereco.searchParams.set('departamento', departamento);
    moldura = document.createElement('iframe');
    moldura.src = endereco.href;
    moldura.title = titulo;
    Object.assign(moldura.style, {
      position: 'fixed', right: '1rem', bottom: '5rem', zIndex: '2147483647',
      width: 'min(24rem, calc(100vw - 2rem))', height: 'min(36rem, calc(100vh - 6.5rem))',
      border: '1px solid #c9ced6', borderRadius: '0.75rem', background: '#fff',
      boxShadow: '0 4px 16px rgba(0,0,0,.25)',
    });
    document.body.append(moldura);
  }

  /** Shows the bubble's face: open (✕), closed (💬), or closed with news from the agent. */
  function rotular(aberto, novidade) {
    botao.setAttribute('aria-expanded', String(aberto));
    botao.textContent = aberto ? '✕' : novidade ? '💬•' : '💬';
    const rotulo = aberto ? 'Fechar o atendimento' : novidade ? `${titulo} (nova mensagem)` : titulo;
    botao.setAttribute('aria-label', rotulo);
    botao.title = rotulo;
  }

  function abrir(aberto) {
    if (aberto && !moldura) criarMoldura();
    if (moldura) moldura.hidden = !aberto;
    if (moldura) moldura.style.display = aberto ? 'block' : 'none';
    rotular(aberto, false);
    guardar(chaveAberto, aberto ? '1' : '');
    if (aberto) guardar(chaveNovidade, '');
    if (aberto) moldura.focus();
  }

  botao.addEventListener('click', () => abrir(botao.getAttribute('aria-expanded') !== 'true'));
  // The page in the frame says when the agent wrote (to flag the closed bubble) and when Esc
  // was pressed inside it; nothing else, and only the broker's own page is listened to.
  window.addEventListener('message', (evento) => {
    if (evento.origin !== broker || !moldura || evento.source !== moldura.contentWindow) return;
    const aberto = botao.getAttribute('aria-expanded') === 'true';
    if (evento.data?.fila === 'fechar' && aberto) {
      abrir(false);
      botao.focus();
    }
    if (evento.data?.fila === 'nova' && !aberto) {
      rotular(false, true);
      guardar(chaveNovidade, '1');
    }
    if (evento.data?.fila === 'ativa') guardar(chaveConversa, '1');
    if (evento.data?.fila === 'encerrada') guardar(chaveConversa, '');
  });
  document.addEventListener('keydown', (evento) => {
    if (evento.key === 'Escape' && botao.getAttribute('aria-expanded') === 'true') {
      abrir(false);
      botao.focus();
    }
  });

  function montar() {
    document.body.append(botao);
    if (ler(chaveAberto)) {
      abrir(true);
    } else if (ler(chaveConversa)) {
      criarMoldura();
      moldura.hidden = true;
      moldura.style.display = 'none';
      rotular(false, ler(chaveNovidade));
    }
  }
  if (document.body) montar();
  else document.addEventListener('DOMContentLoaded', montar);
})();
