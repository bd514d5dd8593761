/*
 * Yizhan embed: tells the page that frames /embed what happens inside, with postMessage.
 *
 * Messages (plain objects):
 *   {type: "yizhan:ready", height}
 *   {type: "yizhan:station-selected", station: {id, name, kind, lon, lat, url}}
 *   {type: "yizhan:height", height}            (CSS pixels; once at start, then on every change)
 *
 * They go to the parent's origin only, never to "*": the origin is location.ancestorOrigins[0]
 * where the browser has it, else the origin of document.referrer; it must be this site's own
 * origin or on the allow-list (YIZHAN_EMBED_ORIGINS, from #yz-embed-config; `https://*.x.cn`
 * matches any subdomain of x.cn). When neither tells the parent (no referrer, no
 * ancestorOrigins) and the list has exactly one plain origin, that one is the target: the
 * browser delivers the message only if the parent really has that origin.
 * Listens to the locator's DOM events (yizhan:ready, yizhan:select) on document.
 * On narrow frames the filters fold behind a button (#yz-embed-filters; CSS in embed.css).
 * Loaded after the locator's scripts (needs i18n.js, common.js); exposes window.YizhanEmbed.
 */
(function (Y) {
  'use strict';

  var C = Y.common;
  var cfg = C.readConfig('yz-embed-config');
  var allowed = Array.isArray(cfg.origins) ? cfg.origins.map(String) : [];

  /** Does `origin` (scheme://host[:port]) match one allow-list entry? */
  function matches(origin, entry) {
    if (origin === entry) { return true; }
    if (entry.indexOf('://*.') < 0) { return false; }
    var o, p;
    try {
      o = new URL(origin);
      p = new URL(entry.replace('://*.', '://wildcard.'));
    } catch (e) {
      return false;
    }
    var domain = p.hostname.slice('wildcard.'.length);
    var host = o.hostname;
    return o.protocol === p.protocol && o.port === p.port &&
      host.length > domain.length + 1 &&
      host.slice(host.length - domain.length - 1) === '.' + domain;
  }

  function isAllowed(origin) {
    if (!origin || origin === 'null') { return false; }
    if (origin === window.location.origin) { return true; }   // the builder's preview
    return allowed.some(function (entry) { return matches(origin, entry); });
  }

  function parentOrigin() {
    if (window.parent === window) { return null; }            // not framed
    var ancestors = window.location.ancestorOrigins;
    if (ancestors && ancestors.length) { return ancestors[0]; }
    var fromReferrer = C.originOf(document.referrer);
    if (fromReferrer) { return fromReferrer; }
    var plain = allowed.filter(function (e) { return e.indexOf('*') < 0; });
    return plain.length === 1 ? plain[0] : null;
  }

  var target = parentOrigin();
  var enabled = !!target && isAllowed(target);

  function post(message) {
    if (!enabled) { return false; }
    try {
      window.parent.postMessage(message, target);
      return true;
    } catch (e) {
      return false;
    }
  }

  function pageHeight() {
    var root = document.documentElement;
    var body = document.body;
    return Math.ceil(Math.max(root.scrollHeight, body ? body.scrollHeight : 0,
      root.getBoundingClientRect().height));
  }

  function num(v) {
    var n = typeof v === 'number' ? v : parseFloat(v);
    return isFinite(n) ? n : null;
  }

  // ---- height: on every change, once per frame at most
  var lastHeight = -1;
  var pending = false;
  function reportHeight() {
    pending = false;
    var h = pageHeight();
    if (h !== lastHeight) {
      lastHeight = h;
      post({ type: 'yizhan:height', height: h });
    }
  }
  function scheduleHeight() {
    if (pending) { return; }
    pending = true;
    (window.requestAnimationFrame || window.setTimeout)(reportHeight);
  }

  // ---- locator events
  var ready = false;
  function onReady() {
    if (ready) { return; }
    ready = true;
    post({ type: 'yizhan:ready', height: pageHeight() });
    scheduleHeight();   // and a first yizhan:height, then one per change
  }
  document.addEventListener('yizhan:ready', onReady);

  document.addEventListener('yizhan:select', function (e) {
    var d = (e && e.detail) || {};
    if (d.id === undefined || d.id === null) { return; }
    post({
      type: 'yizhan:station-selected',
      station: {
        id: String(d.id),
        name: d.name === undefined || d.name === null ? '' : String(d.name),
        kind: d.kind === undefined || d.kind === null ? '' : String(d.kind),
        lon: num(d.lon),
        lat: num(d.lat),
        url: C.absoluteUrl(d.url)
      }
    });
  });

  // The locator normally starts after this file has run (on DOMContentLoaded); if it already
  // has, its yizhan:ready event is gone: say ready now.
  var loc = window.YizhanLocator;
  if (loc && loc.app && loc.app.ready) { onReady(); }

  // ---- narrow frames: the filters fold behind a button, so the map keeps the height
  function foldFilters() {
    var filters = document.getElementById('yz-filters');
    if (!filters || document.getElementById('yz-embed-filters')) { return; }
    var btn = document.createElement('button');
    btn.type = 'button';
    btn.id = 'yz-embed-filters';
    btn.className = 'yz-btn yz-embed-filters-toggle';
    btn.setAttribute('aria-controls', 'yz-filters');
    btn.setAttribute('aria-expanded', 'false');
    btn.textContent = Y.i18n.t('embedFilters');
    filters.setAttribute('data-collapsed', 'true');
    btn.addEventListener('click', function () {
      var open = filters.getAttribute('data-collapsed') === 'true';
      filters.setAttribute('data-collapsed', open ? 'false' : 'true');
      btn.setAttribute('aria-expanded', open ? 'true' : 'false');
      btn.classList.toggle('yz-btn--active', open);
    });
    var row = document.querySelector('#yz-locator .yz-controls') ||
      document.getElementById('yz-search');
    if (row) { row.appendChild(btn); } else { filters.parentNode.insertBefore(btn, filters); }
  }

  function start() {
    foldFilters();
    if (typeof ResizeObserver === 'function') {
      var ro = new ResizeObserver(scheduleHeight);
      ro.observe(document.documentElement);
      if (document.body) { ro.observe(document.body); }
    } else {
      window.addEventListener('resize', scheduleHeight);
    }
    scheduleHeight();
  }

  C.onReady(start);

  window.YizhanEmbed = {
    target: target,
    enabled: enabled,
    isAllowed: isAllowed,
    matches: matches
  };
}(window.Yizhan = window.Yizhan || {}));
