/*
 * Yizhan embed-code builder (/embed/builder): form → /embed URL → live preview + snippet.
 *
 * The preview is a same-origin iframe of /embed, so "use the current view" reads the preview's
 * map view directly. Each new embed URL is first checked by the server (/embed/builder/check,
 * the same validation as /embed): until it answers, or when it refuses (a bad or ambiguous
 * region), the snippet box is empty and disabled, the copy button too, the preview is hidden
 * and the form says what is wrong in the page's language (<html lang>, ?lang=en).
 * The snippet is built as text with every attribute value escaped.
 * Scripts, in order: i18n.js, common.js, this file. Exposes window.YizhanBuilder.
 */
(function (Y) {
  'use strict';

  var t = Y.i18n.t;
  var C = Y.common;
  var cfg = C.readConfig('yz-builder-config');
  var EMBED_URL = String(cfg.embedUrl || (window.location.origin + '/embed'));
  var CHECK_URL = String(cfg.checkUrl || '/embed/builder/check');
  var DEFAULT_CONTROLS = 'search,locate,filters,list';

  var form = document.getElementById('yz-builder-form');
  var code = document.getElementById('yz-b-code');
  var preview = document.getElementById('yz-b-preview');
  var copyBtn = document.getElementById('yz-b-copy');
  var copied = document.getElementById('yz-b-copied');
  var useView = document.getElementById('yz-b-use-view');
  var viewText = document.getElementById('yz-b-view');
  var errorBox = document.getElementById('yz-b-error');
  var view = null;   // {lat, lon, zoom} read from the preview

  var attr = C.escapeAttr;

  function checked(name) {
    return Array.prototype.slice.call(form.querySelectorAll('input[name="' + name + '"]:checked'))
      .map(function (i) { return i.value; });
  }

  /** Width: "100%", "80%" or a pixel count; anything else falls back to 100%. */
  function widthValue() {
    var raw = String(form.elements.width.value || '').trim();
    if (/^\d{1,3}%$/.test(raw) && parseInt(raw, 10) > 0 && parseInt(raw, 10) <= 100) { return raw; }
    if (/^\d{2,4}$/.test(raw) && parseInt(raw, 10) >= 200) { return String(parseInt(raw, 10)); }
    return '100%';
  }

  function heightValue() {
    var h = parseInt(form.elements.height.value, 10);
    if (!isFinite(h)) { return 480; }
    return Math.min(2000, Math.max(200, h));
  }

  /** The query string of /embed for the form's current state. */
  function query() {
    var q = [];
    function add(k, v) { q.push(encodeURIComponent(k) + '=' + encodeURIComponent(v)); }
    var region = String(form.elements.region.value || '').trim();
    if (region) { add('region', region); }
    var kinds = checked('kind');
    if (kinds.length) { add('kind', kinds.join(',')); }
    var services = checked('service');
    if (services.length) { add('service', services.join(',')); }
    var lang = form.elements.lang.value;
    if (lang && lang !== 'zh') { add('lang', lang); }
    var controls = checked('controls').join(',');
    if (controls !== DEFAULT_CONTROLS) { add('controls', controls || 'none'); }
    if (useView.checked && view) {
      add('lat', view.lat.toFixed(5));
      add('lon', view.lon.toFixed(5));
      add('zoom', String(view.zoom));
    }
    return q.join('&');
  }

  function embedSrc() {
    var qs = query();
    return EMBED_URL + (qs ? '?' + qs : '');
  }

  function snippet() {
    return '<iframe src="' + attr(embedSrc()) + '" width="' + attr(widthValue()) +
      '" height="' + heightValue() + '" style="border:0" allowfullscreen allow="geolocation"' +
      ' loading="lazy" title="' + attr(t('title')) + '"></iframe>';
  }

  /** The preview's map view, if its locator exposes the Leaflet map (same origin). */
  function readPreviewView() {
    try {
      var w = preview.contentWindow;
      var app = w && w.YizhanLocator && w.YizhanLocator.app;
      var map = app && app.map;
      if (!map) { return null; }
      var c = map.getCenter();
      return { lat: c.lat, lon: c.lng, zoom: Math.round(map.getZoom()) };
    } catch (e) {
      return null;
    }
  }

  function showView() {
    viewText.textContent = useView.checked ?
      (view ? t('builderView', { lat: view.lat.toFixed(5), lon: view.lon.toFixed(5), zoom: view.zoom }) :
        t('builderViewPending')) : '';
  }

  // ---- the snippet exists only for settings the server has accepted
  var state = 'pending';   // 'pending' (being checked), 'ok' or 'bad'

  function setSnippet(ok) {
    code.value = ok ? snippet() : '';
    code.disabled = !ok;
    copyBtn.disabled = !ok;
    code.setAttribute('placeholder', t(state === 'bad' ? 'builderNoSnippet' : 'builderChecking'));
  }

  /** What went wrong, in the page's language (never the server's developer text). */
  function errorText(err) {
    if (err.parameter === 'region') {
      if (err.candidates.length) {
        return t('builderAmbiguousRegion', { value: C.datum(err.value), list: err.candidates.map(function (c) {
          return C.datum(String(c.name || '')) + ' ' + String(c.code || '');
        }).join(t('sep')) });
      }
      return t('builderBadRegion', { value: C.datum(err.value) });
    }
    return t('builderBadParam', { param: err.parameter });
  }

  var previewWrap = preview.parentNode;

  /** Ask the server whether /embed takes this query; then preview and offer it, or say why not. */
  function check(src, qs) {
    function settle(err) {
      if (src !== lastSrc) { return; }   // the form changed meanwhile
      state = err ? 'bad' : 'ok';
      C.setText(errorBox, err ? errorText(err) : '');   // the typed region stays data
      errorBox.hidden = !err;
      previewWrap.hidden = !!err;
      if (!err) { preview.setAttribute('src', src); }
      setSnippet(!err);
    }
    C.getJSON(CHECK_URL + (qs ? '?' + qs : '')).then(function (answer) {
      settle(answer && answer.ok === false ? {
        parameter: String(answer.parameter || ''),
        value: String(answer.value || ''),
        candidates: Array.isArray(answer.candidates) ? answer.candidates : []
      } : null);
    }, function () { settle(null); });   // cannot check: the preview shows what happens
  }

  var lastSrc = null;
  function update() {
    if (useView.checked) {
      view = readPreviewView() || view;
    }
    showView();
    preview.style.width = /%$/.test(widthValue()) ? widthValue() : widthValue() + 'px';
    preview.setAttribute('height', String(heightValue()));
    var src = embedSrc();
    if (src !== lastSrc) {
      lastSrc = src;
      state = 'pending';
      setSnippet(false);
      check(src, query());
    } else if (state === 'ok') {
      code.value = snippet();
    }
  }

  var later = C.debounce(update, 300);   // typing in the region field

  form.addEventListener('submit', function (e) { e.preventDefault(); update(); });
  form.addEventListener('change', update);
  form.addEventListener('input', later);
  preview.addEventListener('load', function () {
    if (useView.checked && !view) { window.setTimeout(update, 500); }
  });

  // "use the current view": re-read it whenever the preview reports activity (same origin).
  window.addEventListener('message', function (e) {
    if (e.origin !== window.location.origin || e.source !== preview.contentWindow) { return; }
    if (useView.checked) {
      var v = readPreviewView();
      if (v) { view = v; showView(); if (state === 'ok') { code.value = snippet(); } }
    }
  });
  // Moving the preview map sends no message: refresh the snippet when the user comes back.
  preview.addEventListener('mouseleave', function () { if (useView.checked) { update(); } });
  preview.addEventListener('blur', function () { if (useView.checked) { update(); } });

  copyBtn.addEventListener('click', function () {
    if (state !== 'ok') { return; }
    var text = code.value;
    function done(ok) {
      copied.textContent = ok ? t('builderCopied') : t('builderCopyManual');
      window.setTimeout(function () { copied.textContent = ''; }, 4000);
    }
    code.focus();
    code.select();
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { done(true); },
        function () { done(document.execCommand && document.execCommand('copy')); });
    } else {
      var ok = false;
      try { ok = document.execCommand('copy'); } catch (e) { ok = false; }
      done(ok);
    }
  });

  Y.i18n.apply(document);
  update();
  window.YizhanBuilder = { snippet: snippet, embedSrc: embedSrc, update: update };
}(window.Yizhan = window.Yizhan || {}));
