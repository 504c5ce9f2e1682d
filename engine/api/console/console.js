// Contact Ledger auditor console. Plain ES2020, no dependencies, served with a strict CSP:
// everything is built with createElement/textContent (never innerHTML), the token stays in
// sessionStorage and only ever travels in the Authorization header, and nothing is logged.
'use strict';

(() => {
  const TOKEN_KEY = 'cledger.console.token';
  const KEPT_KEY = 'cledger.console.keptDigests';
  const PAGE = 25;          // search page size
  const MAX_PAGES = 200;    // safety net when following next_cursor
  const LIVE_MAX = 40;      // events kept in the "latest events" list

  // ---- DOM helpers ------------------------------------------------------------------------

  const $ = (id) => document.getElementById(id);

  // el('a', {href: '#/x', class: 'y', text: 'z'}, child, 'text', …): attributes are set with
  // setAttribute and text with text nodes, so nothing from the server is ever parsed as HTML.
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    if (attrs) {
      for (const [key, value] of Object.entries(attrs)) {
        if (value === undefined || value === null || value === false) continue;
        if (key === 'text') node.textContent = String(value);
        else if (key === 'class') node.className = value;
        else if (key === 'on') for (const [ev, fn] of Object.entries(value)) node.addEventListener(ev, fn);
        else if (key === 'dataset') Object.assign(node.dataset, value);
        else node.setAttribute(key, value === true ? '' : String(value));
      }
    }
    append(node, children);
    return node;
  }

  function append(node, children) {
    for (const child of children.flat(Infinity)) {
      if (child === undefined || child === null || child === false) continue;
      node.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
    return node;
  }

  function replace(node, ...children) {
    clear(node);
    return append(node, children);
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const enc = encodeURIComponent;

  // "2024-05-01T12:00:00.000123Z" → "2024-05-01 12:00:00 UTC" (the full value goes in title).
  function fmtTime(iso) {
    if (!iso) return '';
    const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})/.exec(iso);
    return m ? `${m[1]} ${m[2]} UTC` : String(iso);
  }

  function timeEl(iso, cls) {
    if (!iso) return el('span', {class: 'muted', text: '—'});
    return el('time', {datetime: iso, title: iso, class: cls, text: fmtTime(iso)});
  }

  // A 64-digit hash that wraps in the middle, if at all (copying it still gives one string).
  function hashEl(hash) {
    if (!hash) return el('span', {class: 'muted', text: '—'});
    const half = Math.ceil(hash.length / 2);
    return el('span', {class: 'hash'}, hash.slice(0, half), el('wbr'), hash.slice(half));
  }

  function shortHash(hash, n = 12) {
    return hash && hash.length > n ? `${hash.slice(0, n)}…` : (hash || '');
  }

  // "ContactEdited" → "Contact edited"
  function humanize(type) {
    if (!type) return '';
    const words = String(type).replace(/([a-z0-9])([A-Z])/g, '$1 $2').replace(/_/g, ' ').split(' ');
    return words.map((w, i) => (i === 0 ? w : w.toLowerCase())).join(' ');
  }

  function badge(text, kind) {
    return el('span', {class: `badge${kind ? ` badge-${kind}` : ''}`, text});
  }

  // ---- SHA-256 and RFC 9162 consistency proofs ------------------------------------------------
  // In JavaScript so the check works without a secure context (crypto.subtle needs one).

  const K256 = new Uint32Array([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
  ]);

  function sha256(data) {
    const bitLength = data.length * 8;
    const padded = new Uint8Array(((data.length + 9 + 63) >> 6) << 6);
    padded.set(data);
    padded[data.length] = 0x80;
    const view = new DataView(padded.buffer);
    view.setUint32(padded.length - 8, Math.floor(bitLength / 0x100000000));
    view.setUint32(padded.length - 4, bitLength >>> 0);
    const h = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
      0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
    const w = new Uint32Array(64);
    for (let off = 0; off < padded.length; off += 64) {
      for (let i = 0; i < 16; i++) w[i] = view.getUint32(off + i * 4);
      for (let i = 16; i < 64; i++) {
        const a = w[i - 15], b = w[i - 2];
        const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
        const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
        w[i] = (w[i - 16] + s0 + w[i - 7] + s1) >>> 0;
      }
      let [a, b, c, d, e, f, g, hh] = h;
      for (let i = 0; i < 64; i++) {
        const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
        const ch = (e & f) ^ (~e & g);
        const t1 = (hh + S1 + ch + K256[i] + w[i]) >>> 0;
        const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
        const maj = (a & b) ^ (a & c) ^ (b & c);
        const t2 = (S0 + maj) >>> 0;
        hh = g; g = f; f = e; e = (d + t1) >>> 0; d = c; c = b; b = a; a = (t1 + t2) >>> 0;
      }
      h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
    }
    const out = new Uint8Array(32);
    const outView = new DataView(out.buffer);
    for (let i = 0; i < 8; i++) outView.setUint32(i * 4, h[i]);
    return out;
  }

  function hexToBytes(hex) {
    if (typeof hex !== 'string' || !/^([0-9a-fA-F]{2})*$/.test(hex)) throw new Error('not hex');
    const out = new Uint8Array(hex.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(i * 2, 2), 16);
    return out;
  }

  function bytesToHex(bytes) {
    return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  }

  function nodeHash(left, right) {
    const buf = new Uint8Array(1 + left.length + right.length);
    buf[0] = 1;
    buf.set(left, 1);
    buf.set(right, 1 + left.length);
    return sha256(buf);
  }

  // RFC 9162 §2.1.4.2: does the tree of `second` leaves (root secondHash) extend the tree of
  // `first` leaves (root firstHash)? Sizes are plain numbers (exact up to 2^53).
  function verifyConsistency(first, second, firstHash, secondHash, path) {
    firstHash = String(firstHash).toLowerCase();
    secondHash = String(secondHash).toLowerCase();
    if (first > second) return false;
    if (first === second) return path.length === 0 && firstHash === secondHash;
    if (first === 0) return path.length === 0;
    if (path.length === 0) return false;
    let nodes = path.map(hexToBytes);
    if (Number.isInteger(Math.log2(first))) nodes = [hexToBytes(firstHash), ...nodes];
    let fn = first - 1;
    let sn = second - 1;
    while (fn % 2 === 1) { fn = (fn - 1) / 2; sn = Math.floor(sn / 2); }
    let fr = nodes[0];
    let sr = nodes[0];
    for (const c of nodes.slice(1)) {
      if (sn === 0) return false;
      if (fn % 2 === 1 || fn === sn) {
        fr = nodeHash(c, fr);
        sr = nodeHash(c, sr);
        while (fn % 2 === 0 && fn !== 0) { fn /= 2; sn = Math.floor(sn / 2); }
      } else {
        sr = nodeHash(sr, c);
      }
      fn = Math.floor(fn / 2);
      sn = Math.floor(sn / 2);
    }
    return sn === 0 && bytesToHex(fr) === firstHash && bytesToHex(sr) === secondHash;
  }

  // ---- API ----------------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, problem, fallback) {
      const p = problem && typeof problem === 'object' ? problem : {};
      const text = p.detail || p.title || fallback || (status ? `The server answered ${status}.` : 'The server could not be reached.');
      super(text);
      this.status = status;
      this.code = p.code || '';
      this.title = p.title || '';
      this.detail = p.detail || '';
      this.field = p.field || '';
    }

    // "No such contact (not_found)" — what a person reads.
    describe() {
      let text = this.message;
      // A title that is more than the code repeated adds to the detail.
      if (this.title && this.detail && this.title !== this.code && this.title !== this.detail &&
          !this.detail.startsWith(this.title)) {
        text = `${this.title}: ${this.detail}`;
      }
      text = text.charAt(0).toUpperCase() + text.slice(1);
      const extras = [this.code, this.field ? `field ${this.field}` : ''].filter(Boolean).join(', ');
      return extras ? `${text} (${extras})` : text;
    }
  }

  const state = {
    token: null,
    route: null,
    record: null,      // the record page's state
    search: null,      // the search page's state
    audit: null,       // the audit page's state
    recordSeq: 0,
    live: {ctrl: null, lastId: null, running: false, retry: 0},
    head: null,        // the last digest read
  };

  async function problemOf(res) {
    let body = null;
    try {
      const type = res.headers.get('content-type') || '';
      if (type.includes('json')) body = await res.json();
      else await res.text();
    } catch (_) { /* an unreadable body: the status says enough */ }
    return new ApiError(res.status, body);
  }

  async function request(path, {accept = 'application/json', signal, headers = {}} = {}) {
    const h = {Accept: accept, ...headers};
    if (state.token) h.Authorization = `Bearer ${state.token}`;
    let res;
    try {
      res = await fetch(path, {headers: h, signal, cache: 'no-store', credentials: 'omit', referrerPolicy: 'no-referrer'});
    } catch (e) {
      if (e && e.name === 'AbortError') throw e;
      throw new ApiError(0, null, 'The server could not be reached.');
    }
    if (!res.ok) {
      const err = await problemOf(res);
      if (res.status === 401 && state.signedIn) sessionExpired(err);
      throw err;
    }
    return res;
  }

  async function api(path, options) {
    const res = await request(path, options);
    return res.json();
  }

  // Follows next_cursor until the last page; returns every item.
  async function allPages(path, {limit = 1000} = {}) {
    const items = [];
    let cursor = null;
    const seen = new Set();
    for (let page = 0; page < MAX_PAGES; page++) {
      const sep = path.includes('?') ? '&' : '?';
      const url = `${path}${sep}limit=${limit}${cursor ? `&cursor=${enc(cursor)}` : ''}`;
      const body = await api(url);
      items.push(...(body.items || []));
      cursor = body.next_cursor;
      if (!cursor || seen.has(cursor)) break;
      seen.add(cursor);
    }
    return items;
  }

  // ---- Toast and error banner ---------------------------------------------------------------

  let toastTimer = null;
  function toast(text, kind) {
    const t = $('toast');
    t.textContent = text;
    t.dataset.kind = kind || 'info';
    t.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { t.hidden = true; }, 4000);
  }

  function showError(err) {
    if (err && err.name === 'AbortError') return;
    const text = err instanceof ApiError ? err.describe() : (err && err.message) || 'Something went wrong.';
    $('error-banner-text').textContent = text;
    $('error-banner').hidden = false;
  }

  function hideError() {
    $('error-banner').hidden = true;
    $('error-banner-text').textContent = '';
  }

  function errorState(title, err) {
    return el('div', {class: 'error-state', role: 'alert'},
      el('strong', {text: title}),
      el('span', {text: err instanceof ApiError ? err.describe() : String((err && err.message) || err)}));
  }

  // ---- Session --------------------------------------------------------------------------------

  async function signIn(token) {
    state.token = token;
    let verifyAllowed = true;
    try {
      state.head = await api('/v1/ledger/digest');
    } catch (err) {
      if (err instanceof ApiError && err.status === 403) {
        verifyAllowed = false;   // a valid token whose role cannot read the digest
      } else {
        state.token = null;
        throw err;
      }
    }
    sessionStorage.setItem(TOKEN_KEY, token);
    state.signedIn = true;
    $('whoami').textContent = verifyAllowed ? 'Signed in' : 'Signed in (this role cannot verify the ledger)';
    $('mainnav').hidden = false;
    $('session').hidden = false;
    startLive();
  }

  function signOut(message) {
    stopLive();
    state.signedIn = false;
    state.token = null;
    state.route = null;
    state.head = null;
    state.verifiedPosition = undefined;
    state.record = null;
    state.search = null;
    state.audit = null;
    sessionStorage.removeItem(TOKEN_KEY);
    $('mainnav').hidden = true;
    $('session').hidden = true;
    clear($('event-list'));
    $('event-empty').hidden = false;
    hideError();
    $('signin-token').value = '';
    const errBox = $('signin-error');
    errBox.textContent = message || '';
    errBox.hidden = !message;
    render();
  }

  function sessionExpired(err) {
    signOut(`Signed out: ${err.describe()}`);
  }

  // ---- Routing ------------------------------------------------------------------------------

  function parseRoute() {
    const raw = location.hash.replace(/^#/, '');
    const q = raw.indexOf('?');
    const path = q >= 0 ? raw.slice(0, q) : raw;
    const params = new URLSearchParams(q >= 0 ? raw.slice(q + 1) : '');
    let parts;
    try {
      parts = path.split('/').filter(Boolean).map(decodeURIComponent);
    } catch (_) {
      parts = [];
    }
    if (parts[0] === 'contacts' && parts[1]) return {name: 'record', kind: 'contact', id: parts[1], params};
    if (parts[0] === 'customers' && parts[1]) return {name: 'record', kind: 'customer', id: parts[1], params};
    if (parts[0] === 'ledger') return {name: 'ledger', params};
    if (parts[0] === 'audit') return {name: 'audit', params};
    return {name: 'search', params};
  }

  const VIEWS = ['signin', 'search', 'record', 'ledger', 'audit'];

  function showView(name) {
    $('boot-loading').hidden = true;
    for (const v of VIEWS) $(`view-${v}`).hidden = v !== name;
    for (const a of document.querySelectorAll('[data-nav]')) {
      if (a.dataset.nav === name) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
  }

  let firstRender = true;
  function render() {
    if (!state.token) {
      showView('signin');
      document.title = 'Sign in · Contact Ledger';
      if (!firstRender) $('signin-token').focus();
      firstRender = false;
      return;
    }
    const route = parseRoute();
    const previous = state.route;
    state.route = route;
    hideError();
    if (!previous || previous.name !== route.name || previous.id !== route.id) $('toast').hidden = true;
    if (route.name === 'search') renderSearch(route);
    else if (route.name === 'record') renderRecord(route, previous);
    else if (route.name === 'ledger') renderLedger();
    else if (route.name === 'audit') renderAudit(route);
    // Move focus to the page's heading on navigation, so keyboard and screen-reader users
    // start at the top of what changed.
    if (!firstRender && !(previous && previous.name === route.name && route.name === 'record' &&
        previous.kind === route.kind && previous.id === route.id)) {
      const h1 = document.querySelector(`#view-${route.name} h1`);
      if (h1) { h1.setAttribute('tabindex', '-1'); h1.focus({preventScroll: false}); }
    }
    firstRender = false;
  }

  // ---- Search -------------------------------------------------------------------------------

  function renderSearch(route) {
    showView('search');
    document.title = 'Search · Contact Ledger';
    const kind = route.params.get('kind') === 'customers' ? 'customers' : 'contacts';
    const q = route.params.get('q') || '';
    const status = ['active', 'inactive', 'all'].includes(route.params.get('status')) ? route.params.get('status') : 'all';
    $('search-q').value = q;
    $('search-kind').value = kind;
    $('search-status').value = status;
    $('search-status-field').hidden = kind !== 'contacts';
    runSearch({kind, q, status});
  }

  async function runSearch({kind, q, status}, more) {
    const box = $('search-results');
    const moreBtn = $('search-more');
    if (!more) {
      state.search = {kind, q, status, items: [], cursor: null, seq: (state.search ? state.search.seq : 0) + 1};
      replace(box, el('p', {class: 'loading', text: 'Searching…'}));
      $('search-count').textContent = '';
      $('search-results-title').textContent = q ? `${kind === 'contacts' ? 'Contacts' : 'Customers'} matching “${q}”` : (kind === 'contacts' ? 'Contacts' : 'Customers');
    }
    const s = state.search;
    const seq = s.seq;
    const params = new URLSearchParams();
    if (q) params.set('q', q);
    if (kind === 'contacts') params.set('status', status);
    params.set('limit', String(PAGE));
    if (more && s.cursor) params.set('cursor', s.cursor);
    moreBtn.disabled = true;
    try {
      const body = await api(`/v1/${kind}?${params}`);
      if (state.search !== s || s.seq !== seq) return;
      s.items.push(...(body.items || []));
      s.cursor = body.next_cursor || null;
      renderResults(s);
    } catch (err) {
      if (state.search !== s) return;
      if (err instanceof ApiError && (err.status === 404 || err.status === 405)) {
        replace(box, el('div', {class: 'empty'},
          `Searching ${kind} is not available on this server (GET /v1/${kind} answered ${err.status}). `,
          'Open a record by its id instead.'));
      } else {
        replace(box, errorState('The search failed.', err));
      }
      moreBtn.hidden = true;
    } finally {
      moreBtn.disabled = false;
    }
  }

  function contactName(c) {
    const name = [c.title, c.first_name, c.last_name].filter(Boolean).join(' ');
    return name || c.email || c.company_name || c.id;
  }

  function statusBadge(status) {
    return status === 'deleted' ? badge('Deleted', 'bad') : badge('Active', 'ok');
  }

  function renderResults(s) {
    const box = $('search-results');
    $('search-more').hidden = !s.cursor;
    $('search-count').textContent = s.items.length ? `${s.items.length}${s.cursor ? '+' : ''} found` : '';
    if (!s.items.length) {
      replace(box, el('p', {class: 'empty', text: s.q ? 'Nothing matches this search.' : 'There are no records yet.'}));
      return;
    }
    let head;
    let rows;
    if (s.kind === 'contacts') {
      head = ['Name', 'Email', 'Company', 'Customers', 'Status', 'Id'];
      rows = s.items.map((c) => el('tr', null,
        el('td', null, el('a', {href: `#/contacts/${enc(c.id)}`, text: contactName(c)})),
        el('td', {text: c.email || ''}),
        el('td', {text: c.company_name || ''}),
        el('td', null, (c.customers || []).map((l, i) => [i ? ', ' : '', el('a', {href: `#/customers/${enc(l.id)}`, text: l.id})])),
        el('td', null, statusBadge(c.status), c.kind === 'shared' ? [' ', badge('Shared', 'info')] : null),
        el('td', {class: 'mono', text: c.id})));
    } else {
      head = ['Name', 'Email', 'Bill format', 'Status', 'Id'];
      rows = s.items.map((c) => el('tr', null,
        el('td', null, el('a', {href: `#/customers/${enc(c.id)}`, text: c.name || c.id})),
        el('td', {text: c.email || ''}),
        el('td', {text: c.bill_format || ''}),
        el('td', null, statusBadge(c.status)),
        el('td', {class: 'mono', text: c.id})));
    }
    replace(box, el('div', {class: 'table-wrap'},
      el('table', {class: 'results'},
        el('thead', null, el('tr', null, head.map((h) => el('th', {scope: 'col', text: h})))),
        el('tbody', null, rows))));
  }

  function searchSubmitted(ev) {
    ev.preventDefault();
    const params = new URLSearchParams();
    const q = $('search-q').value.trim();
    const kind = $('search-kind').value;
    if (q) params.set('q', q);
    params.set('kind', kind);
    if (kind === 'contacts') params.set('status', $('search-status').value);
    const hash = `#/search?${params}`;
    if (location.hash === hash) runSearch({kind, q, status: $('search-status').value});
    else location.hash = hash;
  }

  function openSubmitted(ev) {
    ev.preventDefault();
    const id = $('open-id').value.trim();
    if (!id) { $('open-id').focus(); return; }
    location.hash = `#/${$('open-kind').value}/${enc(id)}`;
  }

  // ---- A record: contact or customer ----------------------------------------------------------

  const CONTACT_FIELDS = [
    ['Title', (c) => c.title],
    ['First name', (c) => c.first_name],
    ['Last name', (c) => c.last_name],
    ['Email', (c) => c.email],
    ['Company', (c) => c.company_name],
    ['Position', (c) => c.position],
    ['Department', (c) => c.department],
    ['Contact type', (c) => c.contact_type],
    ['Phones', (c) => (c.phones || []).map((p) => `${p.type}: ${p.number}`)],
    ['Address', (c) => {
      const a = c.address || {};
      const lines = [...(a.lines || [])];
      const tail = [a.postcode, a.country].filter(Boolean).join(' ');
      if (tail) lines.push(tail);
      return lines;
    }],
    ['Website', (c) => c.website],
    ['Dealer code', (c) => c.dealer_code],
    ['Portal', (c) => (c.portal_enabled === undefined ? '' : (c.portal_enabled ? 'Enabled' : 'Disabled'))],
    ['Password', (c) => (!c.password ? '' : !c.password.set ? 'Not set' : (c.password.must_change ? 'Set (temporary: must change)' : 'Set'))],
    ['Invoices by email', (c) => (c.communication || {}).email_bill],
    ['Regarding', (c) => ((c.communication || {}).regarding || []).join(', ')],
    ['Usage report profile', (c) => (c.communication || {}).usage_report_profile],
    ['Copy of correspondence', (c) => ((c.communication || {}).copy_correspondence || []).join(', ')],
    ['Copy of ticket updates', (c) => ((c.communication || {}).copy_ticket_updates || []).join(', ')],
    ['Customers', (c) => (c.customers || []).map((l) => ({link: `#/customers/${enc(l.id)}`, text: l.id, extra: (l.roles || []).join(', ')}))],
  ];

  const CUSTOMER_FIELDS = [
    ['Name', (c) => c.name],
    ['Email', (c) => c.email],
    ['Bill format', (c) => c.bill_format],
  ];

  const SYSTEM_FIELDS = [
    ['Created', (c) => ({time: c.created})],
    ['Last modified', (c) => ({time: c.last_modified})],
    ['Deleted', (c) => (c.deleted ? {time: c.deleted} : '')],
    ['Status', (c) => (c.status === 'deleted' ? 'Deleted' : 'Active')],
    ['Version', (c) => (c.version === undefined ? '' : String(c.version))],
  ];

  function valueKey(v) {
    return JSON.stringify(v === undefined || v === null ? '' : v);
  }

  function isEmptyValue(v) {
    return v === undefined || v === null || v === '' || (Array.isArray(v) && v.length === 0);
  }

  function renderValue(v) {
    if (Array.isArray(v)) {
      return el('ul', null, v.map((item) => el('li', null, renderValue(item))));
    }
    if (v && typeof v === 'object') {
      if (v.time) return timeEl(v.time);
      if (v.link) return [el('a', {href: v.link, text: v.text}), v.extra ? el('span', {class: 'muted', text: ` — ${v.extra}`}) : null];
    }
    return String(v);
  }

  function plainValue(v) {
    if (Array.isArray(v)) return v.map(plainValue).join('; ');
    if (v && typeof v === 'object') return v.time ? fmtTime(v.time) : `${v.text}${v.extra ? ` (${v.extra})` : ''}`;
    return isEmptyValue(v) ? '—' : String(v);
  }

  // A <dl> of fields; with `now`, rows that differ from the current record are marked. With
  // `compact`, fields empty here (and now) are only named in one line below the list.
  function fieldList(fields, record, now, compact) {
    const dl = el('dl', {class: 'fields'});
    const empties = [];
    for (const [label, get] of fields) {
      const v = get(record);
      const differs = now && valueKey(v) !== valueKey(get(now));
      if (compact && !differs && isEmptyValue(v)) { empties.push(label); continue; }
      const dt = el('dt', {text: label, class: differs ? 'differs' : undefined});
      const dd = el('dd', {class: [isEmptyValue(v) ? 'empty' : '', differs ? 'differs' : ''].filter(Boolean).join(' ') || undefined});
      append(dd, [isEmptyValue(v) ? '—' : renderValue(v)]);
      if (differs) dd.appendChild(el('span', {class: 'now-value', text: `now: ${plainValue(get(now))}`}));
      dl.append(dt, dd);
    }
    if (!empties.length) return dl;
    return [dl, el('p', {class: 'empty-fields small muted'}, el('span', {class: 'label', text: 'Empty: '}), empties.join(', '))];
  }

  function recordPath(kind, id) {
    return `/v1/${kind === 'contact' ? 'contacts' : 'customers'}/${enc(id)}`;
  }

  function renderRecord(route, previous) {
    showView('record');
    const same = previous && previous.name === 'record' && previous.kind === route.kind &&
      previous.id === route.id && state.record && state.record.id === route.id;
    if (same) {
      // Only the as-of parameter changed (typed into the address, or history).
      const rec = state.record;
      if (!rec.steps.length) return;
      const at = route.params.get('at');
      let step = rec.steps.length - 1;
      if (at) {
        const i = rec.steps.findIndex((st) => String(st.position) === at);
        if (i >= 0) step = i;
      }
      if (step !== rec.step) { $('asof').value = String(step); showStep(rec, step); }
      return;
    }
    loadRecord(route.kind, route.id, route.params.get('at'));
  }

  async function loadRecord(kind, id, atParam, {live} = {}) {
    const seq = ++state.recordSeq;
    const base = recordPath(kind, id);
    const isContact = kind === 'contact';
    if (!live) {
      state.record = {kind, id, current: null, entries: [], steps: [], step: 0, shown: null};
      document.title = `${isContact ? 'Contact' : 'Customer'} ${id} · Contact Ledger`;
      $('record-kind-label').textContent = isContact ? 'Contact' : 'Customer';
      $('record-title').textContent = id;
      $('record-subtitle').textContent = '';
      clear($('record-badges'));
      $('record-live-note').hidden = true;
      $('record-error').hidden = true;
      $('record-body').hidden = false;
      $('record-evidence').disabled = true;
      replace($('record-fields'), el('p', {class: 'loading', text: 'Loading…'}));
      clear($('record-system'));
      clear($('timeline'));
      $('timeline-empty').hidden = false;
      $('timeline-empty').textContent = 'Loading the timeline…';
      $('timeline-count').textContent = '';
      $('record-contacts-card').hidden = isContact;
      if (!isContact) replace($('record-contacts'), el('p', {class: 'loading', text: 'Loading…'}));
      $('asof').disabled = true;
    }
    const rec = state.record;
    try {
      const [current, entries] = await Promise.all([api(base), allPages(`${base}/history`)]);
      if (seq !== state.recordSeq) return;
      const wasNow = !live || rec.step === rec.steps.length - 1;
      rec.current = current;
      rec.entries = entries;
      rec.steps = stepsOf(entries);
      if (!rec.steps.length) rec.steps = [{position: null, time: current.last_modified}];
      let step = rec.steps.length - 1;
      if (live && !wasNow) {
        const keep = rec.steps.findIndex((s) => s.position === (rec.shownStep && rec.shownStep.position));
        if (keep >= 0) step = keep;
      } else if (!live && atParam) {
        const at = rec.steps.findIndex((s) => String(s.position) === String(atParam));
        if (at >= 0) step = at;
      }
      renderRecordHeader(rec);
      setupSlider(rec, step);
      renderTimelineFilters(rec);
      await showStep(rec, step, {immediate: true});
      if (!isContact) loadCustomerContacts(rec, seq);
    } catch (err) {
      if (seq !== state.recordSeq) return;
      if (live) { showError(err); return; }
      $('record-body').hidden = true;
      const box = $('record-error');
      box.hidden = false;
      const title = err instanceof ApiError && err.status === 404
        ? `There is no ${kind} “${id}” that this token may read.`
        : `The ${kind} could not be loaded.`;
      replace(box, errorState(title, err));
      $('record-title').textContent = id;
    }
  }

  // The slider's steps: one per distinct position of the timeline, oldest first.
  function stepsOf(entries) {
    const steps = [];
    for (const e of entries) {
      const last = steps[steps.length - 1];
      if (last && last.position === e.position) continue;
      steps.push({position: e.position, time: e.recorded_at, operation: e.operation});
    }
    steps.sort((a, b) => a.position - b.position);
    return steps;
  }

  function renderRecordHeader(rec) {
    const c = rec.current;
    const isContact = rec.kind === 'contact';
    $('record-title').textContent = isContact ? contactName(c) : (c.name || c.id);
    $('record-subtitle').textContent = `${isContact ? 'contact' : 'customer'} id ${c.id}`;
    const badges = [statusBadge(c.status)];
    if (isContact && c.kind) badges.push(badge(c.kind === 'shared' ? 'Shared' : 'Direct', 'info'));
    if (c.profile) badges.push(badge('Profile contact (read-only)'));
    if (c.erased) badges.push(badge('Personal data erased', 'warn'));
    replace($('record-badges'), badges);
    $('record-evidence').disabled = false;
  }

  function setupSlider(rec, step) {
    const slider = $('asof');
    slider.min = '0';
    slider.max = String(Math.max(0, rec.steps.length - 1));
    slider.value = String(step);
    slider.disabled = rec.steps.length < 2;
    replace($('asof-ticks'), rec.steps.map((_, i) => el('option', {value: String(i)})));
    const first = rec.steps[0];
    const last = rec.steps[rec.steps.length - 1];
    $('asof-first').textContent = first && first.position !== null ? `#${first.position} · ${fmtTime(first.time)}` : '';
    $('asof-last').textContent = rec.steps.length > 1 ? 'now' : '';
    updateSliderLabel(rec, step);
  }

  function stepLabel(rec, step) {
    const s = rec.steps[step];
    const isNow = step === rec.steps.length - 1;
    if (!s || s.position === null) return 'now';
    const base = `position ${s.position} · ${fmtTime(s.time)}`;
    return isNow ? `now (${base})` : `${base} — step ${step + 1} of ${rec.steps.length}`;
  }

  function updateSliderLabel(rec, step) {
    const text = stepLabel(rec, step);
    $('asof-label').textContent = text;
    $('asof').setAttribute('aria-valuetext', text);
  }

  let sliderTimer = null;
  function sliderMoved(immediate) {
    const rec = state.record;
    if (!rec || !rec.steps.length) return;
    const step = Number($('asof').value);
    updateSliderLabel(rec, step);
    markTimelineStep(rec, step);
    clearTimeout(sliderTimer);
    sliderTimer = setTimeout(() => showStep(rec, step), immediate ? 0 : 150);
  }

  async function showStep(rec, step, {immediate} = {}) {
    rec.step = step;
    const s = rec.steps[step];
    rec.shownStep = s;
    const isNow = step === rec.steps.length - 1;
    updateSliderLabel(rec, step);
    markTimelineStep(rec, step);
    // Keep the position in the address, so a reload shows the same moment.
    const hashBase = `#/${rec.kind === 'contact' ? 'contacts' : 'customers'}/${enc(rec.id)}`;
    const wanted = isNow ? hashBase : `${hashBase}?at=${s.position}`;
    if (location.hash !== wanted) history.replaceState(null, '', wanted);
    let view = rec.current;
    rec.viewSeq = (rec.viewSeq || 0) + 1;
    const seq = rec.viewSeq;
    if (!isNow && s.position !== null) {
      if (!immediate) $('record-card').setAttribute('aria-busy', 'true');
      try {
        view = await api(`${recordPath(rec.kind, rec.id)}?at=${s.position}`);
      } catch (err) {
        if (rec !== state.record || seq !== rec.viewSeq) return;
        $('record-card').removeAttribute('aria-busy');
        replace($('record-fields'), errorState(`The ${rec.kind} could not be read as of position ${s.position}.`, err));
        return;
      }
    }
    if (rec !== state.record || seq !== rec.viewSeq) return;
    $('record-card').removeAttribute('aria-busy');
    rec.shown = view;
    renderRecordFields(rec, view, isNow ? null : rec.current, isNow ? null : s);
  }

  function renderRecordFields(rec, view, now, step) {
    const pill = $('record-asof-pill');
    if (step) {
      $('record-data-title').textContent = 'Record as it was';
      pill.textContent = `as of position ${step.position} · ${fmtTime(step.time)}`;
      pill.dataset.now = 'false';
    } else {
      $('record-data-title').textContent = 'Current record';
      pill.textContent = 'now';
      pill.dataset.now = 'true';
    }
    pill.hidden = false;
    const fields = rec.kind === 'contact' ? CONTACT_FIELDS : CUSTOMER_FIELDS;
    const parts = [fieldList(fields, view, now, true)];
    if (now) parts.push(el('p', {class: 'small muted', text: 'Highlighted fields differ from the record now.'}));
    replace($('record-fields'), parts);
    replace($('record-system'), fieldList(SYSTEM_FIELDS, view, now));
  }

  async function loadCustomerContacts(rec, seq) {
    const box = $('record-contacts');
    try {
      const items = await allPages(`${recordPath('customer', rec.id)}/contacts?status=all`);
      if (seq !== state.recordSeq) return;
      rec.contactIds = new Set(items.map((c) => c.id));
      $('record-contacts-count').textContent = `${items.length}`;
      if (!items.length) {
        replace(box, el('p', {class: 'empty', text: 'This customer has no contacts.'}));
        return;
      }
      const rows = items.map((c) => {
        const link = (c.customers || []).find((l) => l.id === rec.id);
        return el('tr', null,
          el('td', null, el('a', {href: `#/contacts/${enc(c.id)}`, text: contactName(c)})),
          el('td', {text: c.email || ''}),
          el('td', {text: link ? (link.roles || []).join(', ') : ''}),
          el('td', null, statusBadge(c.status), ' ',
            c.profile ? badge('Profile') : badge(c.kind === 'shared' ? 'Shared' : 'Direct', 'info')));
      });
      replace(box, el('div', {class: 'table-wrap'}, el('table', {class: 'results'},
        el('thead', null, el('tr', null, ['Name', 'Email', 'Roles', 'Status'].map((h) => el('th', {scope: 'col', text: h})))),
        el('tbody', null, rows))));
    } catch (err) {
      if (seq !== state.recordSeq) return;
      replace(box, errorState('The contacts could not be loaded.', err));
    }
  }

  // ---- Timeline -----------------------------------------------------------------------------

  function renderTimelineFilters(rec) {
    const fieldSel = $('tl-field');
    const actorSel = $('tl-actor');
    const keepField = fieldSel.value;
    const keepActor = actorSel.value;
    const fields = new Set();
    const actors = new Map();
    for (const e of rec.entries) {
      for (const c of e.changes || []) fields.add(c.field);
      if (e.actor) actors.set(e.actor.id, e.actor.role);
    }
    replace(fieldSel, el('option', {value: '', text: 'All fields'}),
      [...fields].sort().map((f) => el('option', {value: f, text: f})));
    replace(actorSel, el('option', {value: '', text: 'All actors'}),
      [...actors.entries()].sort((a, b) => a[0].localeCompare(b[0]))
        .map(([id, role]) => el('option', {value: id, text: role ? `${id} (${role})` : id})));
    fieldSel.value = fields.has(keepField) ? keepField : '';
    actorSel.value = actors.has(keepActor) ? keepActor : '';
    renderTimeline(rec);
  }

  function renderTimeline(rec) {
    const list = $('timeline');
    const field = $('tl-field').value;
    const actor = $('tl-actor').value;
    const newestFirst = $('tl-order').value !== 'asc';
    let entries = rec.entries.filter((e) =>
      (!actor || (e.actor && e.actor.id === actor)) &&
      (!field || (e.changes || []).some((c) => c.field === field)));
    if (newestFirst) entries = [...entries].reverse();
    const total = rec.entries.length;
    $('timeline-count').textContent = entries.length === total ? `${total} ${total === 1 ? 'entry' : 'entries'}` : `${entries.length} of ${total} entries`;
    replace(list, entries.map((e) => timelineEntry(rec, e, field)));
    const empty = $('timeline-empty');
    empty.hidden = entries.length > 0;
    empty.textContent = total ? 'No entry matches these filters.' : 'This record has no timeline entries.';
    markTimelineStep(rec, rec.step);
  }

  function timelineEntry(rec, e, field) {
    const changes = (e.changes || []).filter((c) => !field || c.field === field);
    const nil = () => el('span', {class: 'nil', text: 'empty'});
    // A link's roles: "empty" would not say whether the contact is linked at all.
    const isLink = (c) => /^customers\[.*\]\.roles$/.test(c.field);
    const shown = (c, value) => {
      if (isLink(c)) return value === '' || value === undefined ? el('span', {class: 'nil', text: 'not linked'}) : value === '(none)' ? 'linked, no roles' : `linked: ${value}`;
      return value === '' || value === undefined ? nil() : String(value);
    };
    const body = changes.length
      ? el('div', {class: 'tl-changes'}, el('table', null,
        el('thead', null, el('tr', null, ['Field', 'Before', 'After'].map((h) => el('th', {scope: 'col', text: h})))),
        el('tbody', null, changes.map((c) => el('tr', null,
          el('td', {class: 'field', text: c.field}),
          el('td', {class: 'before'}, shown(c, c.before)),
          el('td', {class: 'after'}, shown(c, c.after)))))))
      : el('p', {class: 'tl-nochange', text: 'No field changed.'});
    const meta = el('div', {class: 'tl-meta'});
    if (e.event_hash) meta.append(el('span', null, 'event hash ', el('code', {title: e.event_hash, text: shortHash(e.event_hash, 16)})));
    if (e.correlation_id) meta.append(el('span', null, 'correlation ', el('code', {text: e.correlation_id})));
    const stepIndex = rec.steps.findIndex((s) => s.position === e.position);
    if (stepIndex >= 0 && rec.steps.length > 1) {
      meta.append(el('button', {
        type: 'button', class: 'btn-link', text: 'Show record as of here',
        'aria-label': `Show the record as of position ${e.position}`,
        on: {click: () => { $('asof').value = String(stepIndex); sliderMoved(true); $('asof').focus(); }},
      }));
    }
    const actorText = e.actor ? e.actor.id : 'unknown actor';
    return el('li', {class: 'tl-entry', dataset: {position: String(e.position)}},
      el('div', {class: 'tl-box'},
        el('div', {class: 'tl-head'},
          el('span', {class: 'tl-op', text: humanize(e.operation)}),
          el('span', {class: 'tl-pos', text: `#${e.position}`}),
          e.stream && e.stream !== `${rec.kind}-${rec.id}` ? el('span', {class: 'tl-on'}, 'on ', streamLink(e.stream)) : null,
          timeEl(e.recorded_at, 'tl-time')),
        el('div', {class: 'tl-actor'}, 'by ', el('span', {class: 'actor-id', text: actorText}),
          e.actor && e.actor.role ? el('span', {class: 'muted', text: ` · ${e.actor.role}`}) : null),
        body,
        meta));
  }

  function markTimelineStep(rec, step) {
    const s = rec.steps[step];
    if (!s) return;
    for (const li of $('timeline').children) {
      const pos = Number(li.dataset.position);
      li.classList.toggle('is-step', pos === s.position);
      li.classList.toggle('after-step', s.position !== null && pos > s.position);
    }
  }

  // ---- Evidence -----------------------------------------------------------------------------

  async function saveBlob(blob, filename) {
    const url = URL.createObjectURL(blob);
    const a = el('a', {href: url, download: filename, hidden: true});
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 30000);
  }

  async function downloadEvidence() {
    const rec = state.record;
    if (!rec) return;
    const btn = $('record-evidence');
    btn.disabled = true;
    try {
      const res = await request(`${recordPath(rec.kind, rec.id)}/evidence`);
      const text = await res.text();
      let count = '';
      try { count = ` (${JSON.parse(text).events.length} events)`; } catch (_) { /* keep the bytes as sent */ }
      const filename = `evidence-${rec.kind}-${rec.id}.json`;
      await saveBlob(new Blob([text], {type: 'application/json'}), filename);
      toast(`Saved ${filename}${count}.`);
    } catch (err) {
      toast(err instanceof ApiError ? `Evidence bundle: ${err.describe()}` : 'The evidence bundle could not be downloaded.', 'error');
    } finally {
      btn.disabled = false;
    }
  }

  // ---- Verification and digests ---------------------------------------------------------------

  function verdict(kind, title, text) {
    const icon = {ok: '✓', bad: '✗', unknown: '?', busy: '…'}[kind];
    return el('div', {class: 'verdict', dataset: {kind}},
      el('span', {class: 'verdict-icon', 'aria-hidden': 'true', text: icon}),
      el('div', null, el('div', {class: 'verdict-title', text: title}), text ? el('div', {class: 'verdict-text', text}) : null));
  }

  function renderLedger() {
    showView('ledger');
    document.title = 'Verification · Contact Ledger';
    runVerify();
    loadDigest();
    renderKept();
  }

  let verifySeq = 0;
  async function runVerify() {
    const box = $('verify-state');
    const btn = $('verify-run');
    const seq = ++verifySeq;
    btn.disabled = true;
    replace(box, verdict('busy', 'Verifying the ledger…', 'Recomputing the hash chain and every projection.'));
    try {
      const r = await api('/v1/ledger/verify');
      if (seq !== verifySeq) return;
      state.verifiedPosition = r.position;
      $('verify-stale').hidden = true;
      const mismatches = r.projections || [];
      const parts = [];
      if (r.ok) {
        parts.push(verdict('ok', 'Ledger verified', `The hash chain holds from position 1 to ${r.position ?? r.events_checked} and every projection matches a fresh rebuild.`));
      } else {
        const why = r.first_broken_position
          ? `The chain breaks at position ${r.first_broken_position}${r.problem ? `: ${r.problem}` : ''}.`
          : (r.problem || (mismatches.length ? 'Some projections differ from a fresh rebuild.' : 'The server reports a failure.'));
        parts.push(verdict('bad', 'Verification failed', why));
      }
      const dl = el('dl', {class: 'fields'});
      const row = (label, value) => dl.append(el('dt', {text: label}), el('dd', null, value));
      row('Result', r.ok ? badge('ok', 'ok') : badge('failed', 'bad'));
      row('Events checked', String(r.events_checked ?? '—'));
      row('Head position', String(r.position ?? '—'));
      row('Head hash', hashEl(r.hash));
      row('Verified at', timeEl(r.verified_at));
      if (r.first_broken_position) row('First broken position', String(r.first_broken_position));
      row('Projections', mismatches.length ? `${mismatches.length} mismatch${mismatches.length === 1 ? '' : 'es'}` : 'all match a fresh rebuild');
      parts.push(dl);
      if (mismatches.length) {
        parts.push(el('div', {class: 'table-wrap'}, el('table', null,
          el('thead', null, el('tr', null, el('th', {scope: 'col', text: 'Projection'}), el('th', {scope: 'col', text: 'Key'}))),
          el('tbody', null, mismatches.slice(0, 200).map((m) => el('tr', null, el('td', {text: m.projection}), el('td', {class: 'mono', text: m.key})))))));
      }
      replace(box, parts);
    } catch (err) {
      if (seq !== verifySeq) return;
      replace(box, errorState('The verification could not be run.', err));
    } finally {
      if (seq === verifySeq) btn.disabled = false;
    }
  }

  async function loadDigest() {
    const box = $('digest-state');
    try {
      const d = await api('/v1/ledger/digest');
      state.head = d;
      const stale = $('verify-stale');
      if (state.verifiedPosition !== undefined && d.position > state.verifiedPosition) {
        const n = d.position - state.verifiedPosition;
        stale.textContent = `${n} event${n === 1 ? ' was' : 's were'} appended since this verification; “Verify again” covers them.`;
        stale.hidden = false;
      }
      const dl = el('dl', {class: 'fields'});
      dl.append(el('dt', {text: 'Position'}), el('dd', {text: String(d.position)}),
        el('dt', {text: 'Hash'}), el('dd', null, hashEl(d.hash)),
        el('dt', {text: 'Read at'}), el('dd', {text: fmtTime(new Date().toISOString())}));
      replace(box, dl, el('p', {class: 'small muted',
        text: 'The head of the whole ledger (one chain runs through every tenant). Keep it, and check later that the ledger still extends it.'}));
      $('digest-keep').disabled = false;
    } catch (err) {
      replace(box, errorState('The digest could not be read.', err));
      $('digest-keep').disabled = true;
    }
  }

  function keptDigests() {
    try {
      const list = JSON.parse(localStorage.getItem(KEPT_KEY) || '[]');
      return Array.isArray(list) ? list.filter((d) => d && Number.isSafeInteger(d.position) && typeof d.hash === 'string') : [];
    } catch (_) {
      return [];
    }
  }

  function saveKept(list) {
    localStorage.setItem(KEPT_KEY, JSON.stringify(list.slice(0, 50)));
  }

  function digestText(d) {
    const o = {position: d.position, hash: d.hash};
    if (d.tree_size !== undefined && d.root_hash) { o.tree_size = d.tree_size; o.root_hash = d.root_hash; }
    if (d.kept_at) o.kept_at = d.kept_at;
    return JSON.stringify(o);
  }

  async function keepDigest() {
    const btn = $('digest-keep');
    const note = $('digest-keep-note');
    btn.disabled = true;
    try {
      // The signed tree head lets a later check verify a consistency proof, not just compare
      // hashes at one position. Read both and make sure they describe the same head.
      let d;
      let head = null;
      for (let attempt = 0; attempt < 3; attempt++) {
        d = await api('/v1/ledger/digest');
        try { head = await api('/v1/ledger/head'); } catch (_) { head = null; }
        if (!head || head.tree_size === d.position) break;
      }
      const kept = {position: d.position, hash: d.hash, kept_at: new Date().toISOString()};
      if (head && head.tree_size === d.position) { kept.tree_size = head.tree_size; kept.root_hash = head.root_hash; }
      const list = keptDigests().filter((k) => !(k.position === kept.position && k.hash === kept.hash));
      list.unshift(kept);
      saveKept(list);
      note.textContent = `Kept the digest at position ${kept.position}${kept.root_hash ? ' with its signed tree root' : ''} in this browser.`;
      state.head = d;
      renderKept();
      loadDigest();
    } catch (err) {
      note.textContent = `Not kept: ${err instanceof ApiError ? err.describe() : err.message}`;
    } finally {
      btn.disabled = false;
    }
  }

  function renderKept() {
    const box = $('kept-list');
    const list = keptDigests();
    if (!list.length) {
      replace(box, el('p', {class: 'empty', text: 'None yet. “Keep this digest” stores the current one here (a digest is public, not a secret).'}));
      return;
    }
    const rows = list.map((d, i) => el('tr', null,
      el('td', null, timeEl(d.kept_at)),
      el('td', {text: String(d.position)}),
      el('td', null, el('code', {title: d.hash, text: shortHash(d.hash, 16)})),
      el('td', null, el('div', {class: 'kept-actions'},
        el('button', {type: 'button', class: 'btn btn-small', text: 'Check', 'aria-label': `Check the digest kept at position ${d.position}`,
          on: {click: () => { $('check-input').value = digestText(d); checkDigest(); }}}),
        el('button', {type: 'button', class: 'btn btn-small', text: 'Remove', 'aria-label': `Remove the digest kept at position ${d.position}`,
          on: {click: () => { const l = keptDigests(); l.splice(i, 1); saveKept(l); renderKept(); }}})))));
    replace(box, el('div', {class: 'table-wrap'}, el('table', null,
      el('thead', null, el('tr', null, ['Kept', 'Position', 'Hash', ''].map((h) => el('th', {scope: 'col', text: h})))),
      el('tbody', null, rows))));
  }

  // Reads a kept digest: JSON {"position":N,"hash":"…"[,"tree_size":N,"root_hash":"…"]},
  // "N hash" or "N:hash".
  function parseDigest(text) {
    const t = text.trim();
    if (!t) throw new Error('Paste a digest first.');
    let position;
    let hash;
    let treeSize;
    let rootHash;
    if (t.startsWith('{')) {
      let o;
      try { o = JSON.parse(t); } catch (_) { throw new Error('This is not valid JSON.'); }
      position = typeof o.position === 'string' && /^\d+$/.test(o.position) ? Number(o.position) : o.position;
      hash = o.hash;
      const head = o.head && typeof o.head === 'object' ? o.head : o;
      treeSize = head.tree_size;
      rootHash = head.root_hash;
    } else {
      const m = /^(\d+)\s*[:\s,]\s*([0-9a-fA-F]{64})$/.exec(t);
      if (!m) throw new Error('Expected JSON, “POSITION HASH” or “POSITION:HASH”.');
      position = Number(m[1]);
      hash = m[2];
    }
    if (!Number.isSafeInteger(position) || position < 0) throw new Error('The position must be a whole number.');
    if (typeof hash !== 'string' || !/^[0-9a-fA-F]{64}$/.test(hash)) throw new Error('The hash must be 64 hexadecimal digits.');
    const out = {position, hash: hash.toLowerCase()};
    if (Number.isSafeInteger(treeSize) && typeof rootHash === 'string' && /^[0-9a-fA-F]{64}$/.test(rootHash)) {
      out.tree_size = treeSize;
      out.root_hash = rootHash.toLowerCase();
    }
    return out;
  }

  let checkSeq = 0;
  async function checkDigest(ev) {
    if (ev) ev.preventDefault();
    const box = $('check-result');
    const seq = ++checkSeq;
    let kept;
    try {
      kept = parseDigest($('check-input').value);
    } catch (err) {
      replace(box, verdict('unknown', 'Cannot read this digest', err.message));
      return;
    }
    replace(box, verdict('busy', 'Checking…'));
    const checks = [];   // {kind: ok|bad|unknown, text}
    try {
      const cur = await api('/v1/ledger/digest');
      state.head = cur;
      if (kept.position > cur.position) {
        checks.push({kind: 'bad', text: `The kept digest is at position ${kept.position}, beyond the ledger's head (${cur.position}): events were removed, or this is another ledger.`});
      } else if (kept.position === cur.position) {
        checks.push(kept.hash === cur.hash
          ? {kind: 'ok', text: `The head is still at position ${cur.position} and its hash is the one kept.`}
          : {kind: 'bad', text: `At position ${cur.position} the ledger's hash is ${cur.hash}, not the kept ${kept.hash}: the ledger was rewritten.`});
      } else {
        // The chain hash at the kept position: readable when the event is this tenant's.
        let event = null;
        if (kept.position >= 1) {
          try {
            const page = await api(`/v1/events?from=${kept.position}&limit=1`);
            event = (page.events || []).find((e) => e.position === kept.position) || null;
          } catch (_) { event = null; }
        }
        if (event) {
          checks.push(event.hash === kept.hash
            ? {kind: 'ok', text: `The event at position ${kept.position} still has the kept hash, and the head (${cur.position}) is later.`}
            : {kind: 'bad', text: `The event at position ${kept.position} now has hash ${event.hash}, not the kept ${kept.hash}: the chain was rewritten at or before it.`});
        } else {
          checks.push({kind: 'unknown', text: `The event at position ${kept.position} is not visible to this token (it belongs to another tenant), so its chain hash cannot be compared here.`});
        }
      }
      // A consistency proof between the kept tree root and the current signed head.
      if (kept.tree_size !== undefined && kept.position <= cur.position) {
        try {
          const head = await api('/v1/ledger/head');
          if (kept.tree_size > head.tree_size) {
            checks.push({kind: 'bad', text: `The kept tree has ${kept.tree_size} leaves, the current signed head only ${head.tree_size}.`});
          } else {
            const proof = kept.tree_size === head.tree_size
              ? {consistency_path: []}
              : await api(`/v1/ledger/proofs/consistency?from=${kept.tree_size}&to=${head.tree_size}`);
            const ok = verifyConsistency(kept.tree_size, head.tree_size, kept.root_hash, head.root_hash, proof.consistency_path || []);
            checks.push(ok
              ? {kind: 'ok', text: `A consistency proof shows the signed tree of ${head.tree_size} events (root ${shortHash(head.root_hash)}) extends the kept tree of ${kept.tree_size} (root ${shortHash(kept.root_hash)}), checked in this browser.`}
              : {kind: 'bad', text: `The consistency proof from ${kept.tree_size} to ${head.tree_size} events does not verify against the kept root: the log was rewritten.`});
          }
        } catch (err) {
          checks.push({kind: 'unknown', text: `The consistency proof could not be read: ${err instanceof ApiError ? err.describe() : err.message}`});
        }
      } else if (kept.position < cur.position && !checks.some((c) => c.kind === 'ok')) {
        checks.push({kind: 'unknown', text: 'This digest carries no tree root, so no consistency proof can be checked. Digests kept with this console carry one; or run “cledger verify --against POSITION:HASH” on the data directory.'});
      }
    } catch (err) {
      if (seq !== checkSeq) return;
      replace(box, errorState('The check could not be completed.', err));
      return;
    }
    if (seq !== checkSeq) return;
    const bad = checks.some((c) => c.kind === 'bad');
    const ok = checks.some((c) => c.kind === 'ok');
    const head = state.head ? state.head.position : '?';
    const v = bad
      ? verdict('bad', 'Not consistent', `The ledger does not extend the digest kept at position ${kept.position}.`)
      : ok
        ? verdict('ok', 'Consistent', `The ledger (head ${head}) extends the digest kept at position ${kept.position}.`)
        : verdict('unknown', 'Cannot decide here', `Nothing contradicts the digest kept at position ${kept.position}, but nothing could prove it either.`);
    replace(box, v, el('ul', {class: 'checks'}, checks.map((c) => el('li', {dataset: {kind: c.kind}, text: c.text}))));
    loadDigest();   // the head the check saw, in the digest card too
  }

  // ---- Audit trail ---------------------------------------------------------------------------

  function auditQuery() {
    const params = new URLSearchParams();
    const text = (id) => $(id).value.trim();
    if (text('audit-actor')) params.set('actor', text('audit-actor'));
    if (text('audit-record')) params.set('record', text('audit-record'));
    if (text('audit-field')) params.set('field', text('audit-field'));
    // datetime-local gives "YYYY-MM-DDTHH:MM[:SS]"; the form says UTC.
    const toUtc = (v) => (v ? `${v.length === 16 ? `${v}:00` : v}Z` : '');
    const from = toUtc($('audit-from').value);
    const to = toUtc($('audit-to').value);
    if (from) params.set('from', from);
    if (to) params.set('to', to);
    return params;
  }

  // An empty query string (a bare "?") is refused by the server as an unknown parameter.
  function withQuery(path, params) {
    const query = params.toString();
    return query ? `${path}?${query}` : path;
  }

  function renderAudit() {
    showView('audit');
    document.title = 'Audit trail · Contact Ledger';
    if (!state.audit) loadAudit();
  }

  async function loadAudit(more) {
    const box = $('audit-results');
    const moreBtn = $('audit-more');
    if (!more) {
      state.audit = {params: auditQuery(), items: [], cursor: null};
      replace(box, el('p', {class: 'loading', text: 'Loading…'}));
      $('audit-count').textContent = '';
    }
    const a = state.audit;
    const params = new URLSearchParams(a.params);
    params.set('limit', '100');
    if (more && a.cursor) params.set('cursor', a.cursor);
    moreBtn.disabled = true;
    try {
      const body = await api(withQuery('/v1/audit', params));
      if (state.audit !== a) return;
      a.items.push(...(body.items || []));
      a.cursor = body.next_cursor || null;
      moreBtn.hidden = !a.cursor;
      $('audit-count').textContent = `${a.items.length}${a.cursor ? '+' : ''} entries`;
      if (!a.items.length) {
        replace(box, el('p', {class: 'empty', text: 'No audit entry matches.'}));
        return;
      }
      // One <tbody> per entry, one row per field change.
      const groups = a.items.map((e) => {
        const changes = e.changes && e.changes.length ? e.changes : [null];
        return el('tbody', null, changes.map((c, i) => el('tr', null,
          el('td', {class: 'mono nowrap', text: i ? '' : String(e.position)}),
          el('td', {class: 'nowrap'}, i ? '' : timeEl(e.recorded_at)),
          el('td', null, i ? '' : [e.actor ? e.actor.id : '', e.actor && e.actor.role ? el('span', {class: 'muted', text: ` · ${e.actor.role}`}) : '']),
          el('td', {class: 'nowrap'}, i ? '' : streamLink(e.stream)),
          el('td', {text: i ? '' : humanize(e.operation)}),
          el('td', {class: 'mono', text: c ? c.field : ''}),
          el('td', {class: 'before', text: c ? c.before : ''}),
          el('td', {class: 'after', text: c ? c.after : ''}))));
      });
      replace(box, el('div', {class: 'table-wrap'}, el('table', {class: 'audit-table'},
        el('thead', null, el('tr', null, ['Position', 'Recorded', 'Actor', 'Record', 'Operation', 'Field', 'Before', 'After'].map((h) => el('th', {scope: 'col', text: h})))),
        groups)));
    } catch (err) {
      if (state.audit !== a) return;
      replace(box, errorState('The audit trail could not be read.', err));
      moreBtn.hidden = true;
    } finally {
      moreBtn.disabled = false;
    }
  }

  // When the server answers JSON only: the columns of its CSV and the escaping of
  // `cledger audit export --format csv` (RFC 4180, CRLF, a leading ' before a cell a
  // spreadsheet would run as a formula). JSON entries carry no tenant: that column stays empty.
  const CSV_COLUMNS = ['position', 'recorded_at', 'tenant', 'actor', 'role', 'record', 'operation', 'field', 'before', 'after', 'event_hash', 'correlation_id'];

  function csvCell(value) {
    let cell = value === undefined || value === null ? '' : String(value);
    if (cell && '=+-@\t\r'.includes(cell[0])) cell = `'${cell}`;
    return /[",\r\n]/.test(cell) ? `"${cell.replace(/"/g, '""')}"` : cell;
  }

  function csvOf(entries) {
    const lines = [CSV_COLUMNS.map(csvCell).join(',')];
    let rows = 0;
    for (const e of entries) {
      const actor = e.actor || {};
      const changes = e.changes && e.changes.length ? e.changes : [{field: '', before: '', after: ''}];
      for (const c of changes) {
        lines.push([e.position, e.recorded_at, '', actor.id, actor.role, e.stream, e.operation,
          c.field, c.before, c.after, e.event_hash, e.correlation_id].map(csvCell).join(','));
        rows++;
      }
    }
    return {text: `${lines.join('\r\n')}\r\n`, rows};
  }

  // Downloads the audit trail the params select as CSV: the server's own CSV when it offers
  // one (Accept: text/csv), else built here from every JSON page.
  async function downloadCsv(params, name) {
    const stamp = new Date().toISOString().replace(/[:]/g, '').replace(/\..*$/, 'Z');
    const filename = `${name}-${stamp}.csv`;
    const res = await request(withQuery('/v1/audit', params), {accept: 'text/csv'}).catch((err) => {
      if (err instanceof ApiError && err.status === 406) return null;   // CSV not offered
      throw err;
    });
    const type = res ? (res.headers.get('content-type') || '') : '';
    let blob;
    let rows;
    let source;
    if (res && type.startsWith('text/csv')) {
      const text = await res.text();
      rows = Math.max(0, text.split(/\r\n|\n/).filter(Boolean).length - 1);
      blob = new Blob([text], {type: 'text/csv'});
      source = 'as the server wrote it';
    } else {
      let items = [];
      let cursor;
      if (res && type.includes('json')) {
        const first = await res.json();
        items = first.items || [];
        cursor = first.next_cursor || null;
      }
      const seen = new Set();
      for (let page = 0; page < MAX_PAGES && cursor !== null; page++) {
        const p = new URLSearchParams(params);
        p.set('limit', '1000');
        if (cursor) p.set('cursor', cursor);
        const body = await api(withQuery('/v1/audit', p));
        items.push(...(body.items || []));
        cursor = body.next_cursor || null;
        if (cursor && seen.has(cursor)) break;
        if (cursor) seen.add(cursor);
      }
      const csv = csvOf(items);
      rows = csv.rows;
      blob = new Blob([csv.text], {type: 'text/csv'});
      source = 'built in this browser from the JSON audit trail';
    }
    await saveBlob(blob, filename);
    return `Saved ${filename}: ${rows} row${rows === 1 ? '' : 's'}, ${source}.`;
  }

  async function downloadAudit() {
    const btn = $('audit-download');
    const note = $('audit-note');
    btn.disabled = true;
    note.textContent = 'Preparing the CSV…';
    try {
      note.textContent = await downloadCsv(auditQuery(), 'audit');
    } catch (err) {
      note.textContent = `The CSV could not be downloaded: ${err instanceof ApiError ? err.describe() : err.message}`;
    } finally {
      btn.disabled = false;
    }
  }

  async function downloadRecordCsv() {
    const rec = state.record;
    if (!rec) return;
    const btn = $('record-csv');
    btn.disabled = true;
    try {
      toast(await downloadCsv(new URLSearchParams({record: rec.id}), `audit-${rec.kind}-${rec.id}`));
    } catch (err) {
      toast(`Audit trail: ${err instanceof ApiError ? err.describe() : err.message}`, 'error');
    } finally {
      btn.disabled = false;
    }
  }

  function streamLink(stream) {
    const m = /^(contact|customer)-(.+)$/.exec(stream || '');
    if (!m) return el('code', {text: stream || ''});
    return el('a', {href: `#/${m[1]}s/${enc(m[2])}`, text: `${m[1]} ${m[2]}`});
  }

  // ---- Live events (SSE over fetch: the token must stay in a header, never in a URL) -------------

  function setLive(s, text) {
    const live = $('live');
    live.dataset.state = s;
    $('live-text').textContent = text;
    live.title = {
      on: 'Following the event stream',
      connecting: 'Connecting to the event stream',
      reconnecting: 'The event stream dropped; reconnecting',
      stopped: 'Live updates are off',
      off: 'Live updates are off',
    }[s] || '';
  }

  function startLive() {
    stopLive();
    const live = state.live;
    live.running = true;
    live.retry = 0;
    live.lastId = null;
    liveLoop(live.generation = (live.generation || 0) + 1);
  }

  function stopLive() {
    const live = state.live;
    live.running = false;
    live.generation = (live.generation || 0) + 1;
    if (live.ctrl) live.ctrl.abort();
    live.ctrl = null;
    setLive('off', 'Offline');
  }

  async function seedEvents() {
    // The last few events before the head, so the list is not empty at first; the stream then
    // resumes right after the head (Last-Event-ID), leaving no gap.
    if (!state.head) return null;
    const head = state.head.position;
    try {
      const from = Math.max(1, head - 199);
      const page = await api(`/v1/events?from=${from}&limit=${Math.min(200, head - from + 1)}`);
      const events = (page.events || []).filter((e) => e.position <= head);
      for (const e of events.slice(-12)) addEvent(e, false);
    } catch (_) { /* the list just starts empty */ }
    return String(head);
  }

  async function liveLoop(generation) {
    const live = state.live;
    const current = () => live.running && live.generation === generation && state.token;
    setLive('connecting', 'Connecting…');
    live.lastId = await seedEvents();
    while (current()) {
      const ctrl = new AbortController();
      live.ctrl = ctrl;
      try {
        const headers = {Accept: 'text/event-stream', Authorization: `Bearer ${state.token}`};
        if (live.lastId) headers['Last-Event-ID'] = live.lastId;
        const res = await fetch('/v1/events/stream', {headers, signal: ctrl.signal, cache: 'no-store', credentials: 'omit'});
        if (!res.ok) {
          const err = await problemOf(res);
          if (res.status === 401) { sessionExpired(err); return; }
          if (res.status === 403 || res.status === 404) { setLive('stopped', 'No live updates'); return; }
          throw err;
        }
        if (!current()) return;
        setLive('on', 'Live');
        live.retry = 0;
        const reason = await readStream(res.body, generation);
        if (reason === 'revoked') {
          setLive('stopped', 'Token revoked');
          sessionExpired(new ApiError(401, {code: 'token_revoked', detail: 'The token was revoked.'}));
          return;
        }
      } catch (err) {
        if (!current()) return;
      }
      if (!current()) return;
      setLive('reconnecting', 'Reconnecting…');
      const delay = Math.min(15000, 500 * 2 ** live.retry) + Math.random() * 250;
      live.retry = Math.min(live.retry + 1, 6);
      await sleep(delay);
    }
  }

  // Parses text/event-stream frames: "field: value" lines, ':' comments, a blank line ends
  // one message. Returns when the stream ends.
  async function readStream(body, generation) {
    const live = state.live;
    const reader = body.getReader();
    const decoder = new TextDecoder('utf-8');
    let buffer = '';
    let msg = {id: null, event: '', data: []};
    for (;;) {
      const {value, done} = await reader.read();
      if (done) return 'ended';
      if (live.generation !== generation) { reader.cancel().catch(() => {}); return 'stopped'; }
      buffer += decoder.decode(value, {stream: true});
      for (;;) {
        const m = /\r\n|\r|\n/.exec(buffer);
        if (!m) break;
        // A lone CR at the very end may be the first half of CRLF: wait for more.
        if (m[0] === '\r' && m.index === buffer.length - 1) break;
        const line = buffer.slice(0, m.index);
        buffer = buffer.slice(m.index + m[0].length);
        if (line === '') {
          if (msg.data.length || msg.event) {
            if (msg.id !== null) live.lastId = msg.id;
            const outcome = dispatchEvent(msg.event || 'message', msg.data.join('\n'));
            if (outcome === 'revoked') { reader.cancel().catch(() => {}); return 'revoked'; }
          } else if (msg.id !== null) {
            live.lastId = msg.id;
          }
          msg = {id: null, event: '', data: []};
          continue;
        }
        if (line.startsWith(':')) continue;     // a comment: the heartbeat
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        let val = colon < 0 ? '' : line.slice(colon + 1);
        if (val.startsWith(' ')) val = val.slice(1);
        if (field === 'data') msg.data.push(val);
        else if (field === 'event') msg.event = val;
        else if (field === 'id' && !val.includes('\0')) msg.id = val;
      }
    }
  }

  function dispatchEvent(type, data) {
    let payload = null;
    try { payload = JSON.parse(data); } catch (_) { payload = null; }
    if (type === 'error') {
      if (payload && payload.code === 'token_revoked') return 'revoked';
      return null;
    }
    if (!payload || typeof payload !== 'object') return null;
    addEvent(payload, true);
    onLiveEvent(payload);
    return null;
  }

  function addEvent(e, fresh) {
    const list = $('event-list');
    const m = /^(contact|customer)-(.+)$/.exec(e.stream || '');
    const subject = m
      ? el('a', {href: `#/${m[1]}s/${enc(m[2])}`, text: `${m[1]} ${m[2]}`})
      : el('span', {text: e.stream || ''});
    const li = el('li', {class: fresh ? 'fresh' : undefined},
      el('div', {class: 'ev-top'},
        el('span', {class: 'ev-type', text: humanize(e.type)}),
        el('span', {class: 'ev-pos', text: `#${e.position}`})),
      el('div', {class: 'ev-sub'}, subject,
        e.actor ? ` · by ${e.actor.id}` : '',
        ' · ', timeEl(e.recorded_at)));
    list.insertBefore(li, list.firstChild);
    while (list.children.length > LIVE_MAX) list.removeChild(list.lastChild);
    $('event-empty').hidden = true;
  }

  // Does an event touch this record? Its own stream, a body that names it, or (for a
  // customer) one of its contacts.
  function touches(e, kind, id) {
    if (e.stream === `${kind}-${id}`) return true;
    const d = e.data && typeof e.data === 'object' ? e.data : {};
    const keys = kind === 'contact' ? ['contact_id', 'contact'] : ['customer_id', 'customer'];
    if (keys.some((k) => d[k] === id)) return true;
    const rec = state.record;
    if (kind === 'customer' && rec && rec.contactIds) {
      const m = /^contact-(.+)$/.exec(e.stream || '');
      if (m && rec.contactIds.has(m[1])) return true;
    }
    return false;
  }

  let liveRefreshTimer = null;
  function onLiveEvent(e) {
    const route = state.route;
    if (!route) return;
    if (route.name === 'record' && state.record && touches(e, route.kind, route.id)) {
      clearTimeout(liveRefreshTimer);
      liveRefreshTimer = setTimeout(() => {
        const rec = state.record;
        if (!rec || rec.id !== route.id) return;
        loadRecord(rec.kind, rec.id, null, {live: true}).then(() => {
          const note = $('record-live-note');
          note.textContent = `Updated live: ${humanize(e.type)} at position ${e.position}${e.actor ? ` by ${e.actor.id}` : ''}.`;
          note.hidden = false;
        });
      }, 250);
    }
    if (route.name === 'ledger') {
      clearTimeout(onLiveEvent.digestTimer);
      onLiveEvent.digestTimer = setTimeout(loadDigest, 400);
    }
  }

  // ---- Wiring -------------------------------------------------------------------------------

  function init() {
    $('signin-form').addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const input = $('signin-token');
      const token = input.value.trim();
      const errBox = $('signin-error');
      if (!token) {
        errBox.textContent = 'Paste a token first.';
        errBox.hidden = false;
        input.focus();
        return;
      }
      const btn = $('signin-submit');
      btn.disabled = true;
      btn.textContent = 'Signing in…';
      try {
        await signIn(token);
        input.value = '';
        errBox.hidden = true;
        firstRender = false;
        render();
      } catch (err) {
        errBox.textContent = err instanceof ApiError ? err.describe() : 'Sign-in failed.';
        errBox.hidden = false;
        input.focus();
        input.select();
      } finally {
        btn.disabled = false;
        btn.textContent = 'Sign in';
      }
    });
    $('sign-out').addEventListener('click', () => signOut());
    $('error-banner-close').addEventListener('click', hideError);
    $('skip-link').addEventListener('click', (ev) => {
      ev.preventDefault();
      const h1 = document.querySelector('main section:not([hidden]) h1');
      const target = h1 || $('main');
      target.setAttribute('tabindex', '-1');
      target.focus();
    });

    $('search-form').addEventListener('submit', searchSubmitted);
    $('search-kind').addEventListener('change', () => { $('search-status-field').hidden = $('search-kind').value !== 'contacts'; });
    $('search-more').addEventListener('click', () => state.search && runSearch(state.search, true));
    $('open-form').addEventListener('submit', openSubmitted);

    $('asof').addEventListener('input', () => sliderMoved(false));
    $('asof').addEventListener('change', () => sliderMoved(true));
    for (const id of ['tl-field', 'tl-actor', 'tl-order']) {
      $(id).addEventListener('change', () => state.record && renderTimeline(state.record));
    }
    $('record-refresh').addEventListener('click', () => {
      const rec = state.record;
      if (rec) loadRecord(rec.kind, rec.id, null);
    });
    $('record-evidence').addEventListener('click', downloadEvidence);
    $('record-csv').addEventListener('click', downloadRecordCsv);

    $('verify-run').addEventListener('click', runVerify);
    $('digest-keep').addEventListener('click', keepDigest);
    $('check-form').addEventListener('submit', checkDigest);
    $('check-input').addEventListener('keydown', (ev) => {
      // Enter submits (Shift+Enter for a new line), as in the other forms.
      if (ev.key === 'Enter' && !ev.shiftKey) { ev.preventDefault(); $('check-form').requestSubmit(); }
    });

    $('audit-form').addEventListener('submit', (ev) => { ev.preventDefault(); loadAudit(false); });
    $('audit-more').addEventListener('click', () => loadAudit(true));
    $('audit-download').addEventListener('click', downloadAudit);

    window.addEventListener('hashchange', () => { if (location.hash.startsWith('#/') || !location.hash) render(); });

    const saved = sessionStorage.getItem(TOKEN_KEY);
    if (saved) {
      signIn(saved).then(render, (err) => signOut(err instanceof ApiError ? `Signed out: ${err.describe()}` : ''));
    } else {
      render();
    }
  }

  // For tests of the proof code (no personal data): window.cledgerConsole.verifyConsistency.
  window.cledgerConsole = Object.freeze({verifyConsistency, sha256Hex: (bytes) => bytesToHex(sha256(bytes))});

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
