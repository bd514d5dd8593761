/*
 * Yizhan common: what every page script shares (locator, station page, embed, builder, planner).
 *
 *   readConfig(id)          the JSON block <script type="application/json" id=…>, {} if absent
 *   getJSON(url, options)   fetch JSON, rejecting with an Error whose message is readable
 *   errorText(err)          a failed request's message in the page language (by error code)
 *   apiUrl(base, path, params), isBlank, el, textNode, escapeAttr, debounce, dispatch,
 *   onReady, writeClipboard, absoluteUrl, originOf
 *   dataEl(tag, cls, text)  el() marked translate="no": data (names, addresses, hours as
 *                           registered) shown as it is in both languages
 *   datum(s), setText(node, text)  data inside a message: datum() brackets it (Unicode
 *                           isolates), setText() shows it as <bdi translate="no">
 *   localiseMap(map)        Leaflet's own control names (zoom, layers, close, prefix) in the
 *                           page language; every map of the product calls it once
 *
 * Classic script (no modules, no build step), ES5 like the rest: it needs only window.Yizhan.i18n
 * (i18n.js, loaded before it) at call time for its messages. Exposes window.Yizhan.common.
 */
(function (Y) {
  'use strict';

  function t(key, params) {
    return Y.i18n ? Y.i18n.t(key, params) : key;
  }

  /** The parsed JSON config block `#id` (default #yz-config); {} when absent or unreadable. */
  function readConfig(id) {
    var node = document.getElementById(id || 'yz-config');
    try {
      return JSON.parse(node ? node.textContent : '{}') || {};
    } catch (e) {
      return {};
    }
  }

  function isBlank(v) {
    return v === undefined || v === null || String(v).trim() === '';
  }

  /**
   * `base` + `path` + a query string of `params`: arrays joined with ",", true as "1", false
   * and blank values left out.
   */
  function apiUrl(base, path, params) {
    var qs = [];
    Object.keys(params || {}).forEach(function (k) {
      var v = params[k];
      if (Array.isArray(v)) { v = v.join(','); }
      if (v === false) { return; }
      if (v === true) { v = '1'; }
      if (!isBlank(v)) { qs.push(encodeURIComponent(k) + '=' + encodeURIComponent(v)); }
    });
    return base.replace(/\/+$/, '') + path + (qs.length ? '?' + qs.join('&') : '');
  }

  /**
   * GET `url` as JSON (same-origin credentials, Accept: application/json).
   *
   * options: {signal: AbortSignal, timeoutMs: number}. Resolves with the parsed body. Rejects:
   *   - the AbortError itself when `signal` aborts (callers ignore it);
   *   - Error(t('timeout')) with .timeout = true after timeoutMs (when given);
   *   - Error(t('network')) when the request fails;
   *   - for a non-2xx answer, Error(the API's error.message, else "HTTP <status>") with
   *     .status, .code and .reason (error.code, error.reason), .retryAfter (the Retry-After
   *     header) and .parameter (error.parameter);
   *   - Error(t('badData')) for a 2xx answer that is not JSON.
   * Errors whose message is already in the page language carry .localised = true; for the
   * others (the server's English message, meant for API clients) use errorText(err).
   */
  function getJSON(url, options) {
    var opts = options || {};
    var init = { headers: { Accept: 'application/json' }, credentials: 'same-origin' };
    var timer = null;
    var timedOut = false;
    var ctrl = null;
    if (opts.timeoutMs > 0 && typeof AbortController === 'function') {
      ctrl = new AbortController();
      if (opts.signal) {
        if (opts.signal.aborted) { ctrl.abort(); }
        opts.signal.addEventListener('abort', function () { ctrl.abort(); });
      }
      timer = window.setTimeout(function () { timedOut = true; ctrl.abort(); }, opts.timeoutMs);
      init.signal = ctrl.signal;
    } else if (opts.signal) {
      init.signal = opts.signal;
    }
    function done() { if (timer !== null) { window.clearTimeout(timer); timer = null; } }
    function failed(e) {
      if (timedOut) {
        var err = new Error(t('timeout'));
        err.timeout = true;
        err.localised = true;
        return err;
      }
      if (e && e.name === 'AbortError') { return e; }
      var net = new Error(t('network'));
      net.localised = true;
      return net;
    }
    return fetch(url, init)
      .catch(function (e) { done(); throw failed(e); })
      .then(function (resp) {
        return resp.text().catch(function (e) { done(); throw failed(e); }).then(function (body) {
          done();
          var data = null;
          try { data = body ? JSON.parse(body) : null; } catch (e) { data = null; }
          if (!resp.ok) {
            var msg = data && data.error && data.error.message;
            var err = new Error(msg ? String(msg) : 'HTTP ' + resp.status);
            err.status = resp.status;
            err.code = data && data.error && data.error.code;
            err.reason = data && data.error && data.error.reason;
            err.retryAfter = resp.headers.get('Retry-After');
            err.parameter = data && data.error && data.error.parameter;
            throw err;
          }
          if (data === null) {
            var bad = new Error(t('badData'));
            bad.localised = true;
            throw bad;
          }
          return data;
        });
      });
  }

  /**
   * A failed request in the page language, from the catalogue: the API's stable error
   * `code` (and for a geocode "not found" its `reason`) picks the text; the server's English
   * message is never shown. Messages made here (network, timeout, bad data) pass through.
   */
  function errorText(err) {
    var has = Y.i18n ? Y.i18n.has : function () { return false; };
    if (!err) { return t('apiError.unknown'); }
    if (err.localised) { return err.message; }
    if (err.code === 'rate_limited' || err.status === 429) {
      return t('apiError.rate_limited', { s: err.retryAfter || 60 });
    }
    if (err.reason && has('geocodeReason.' + err.reason)) { return t('geocodeReason.' + err.reason); }
    if (err.code && has('apiError.' + err.code)) { return t('apiError.' + err.code); }
    if (err.status) { return t('apiError.http', { status: err.status }); }
    return t('network');
  }

  /** Create an element with a class and (escaped) text. */
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  /**
   * el() marked as data: translate="no" (HTML's "a name, not to be translated"). Station
   * names, addresses, union and place names, hours as registered: shown as they are on pages
   * in both languages, and skipped by the tests that look for other-language text.
   */
  function dataEl(tag, className, text) {
    var node = el(tag, className, text);
    node.setAttribute('translate', 'no');
    return node;
  }

  var ISOLATED = /\u2068([^\u2068\u2069]*)\u2069/g;

  /**
   * `s` bracketed as data for a message (U+2068 … U+2069, the isolates <bdi> stands for):
   * t('searchPartial', {unit: datum('柳州市')}) keeps the place name a name through nested
   * messages, and setText() shows it marked translate="no".
   */
  function datum(s) {
    return '\u2068' + String(s) + '\u2069';
  }

  /**
   * Set `node`'s text to `text`; the parts bracketed by datum() become <bdi translate="no">
   * (data shown as it is in both languages), the rest plain text. Returns `node`.
   */
  function setText(node, text) {
    if (!node) { return node; }
    node.textContent = '';
    var s = text === undefined || text === null ? '' : String(text);
    var last = 0;
    s.replace(ISOLATED, function (whole, inner, at) {
      if (at > last) { node.appendChild(document.createTextNode(s.slice(last, at))); }
      node.appendChild(dataEl('bdi', null, inner));
      last = at + whole.length;
      return whole;
    });
    if (last < s.length) { node.appendChild(document.createTextNode(s.slice(last))); }
    return node;
  }

  /**
   * Leaflet's own words in the page language, for every map of the product (locator, station
   * page, embed, planner): the zoom buttons' and the layer switcher's names, the popup close
   * button's, and the attribution prefix (Leaflet's English link title is dropped). Safe to
   * call again after a language switch or after adding a control; popups are named as
   * they open.
   */
  function localiseMap(map) {
    if (!map || typeof map.getContainer !== 'function') { return map; }
    var root = map.getContainer();
    var names = {
      'leaflet-control-zoom-in': 'zoomIn',
      'leaflet-control-zoom-out': 'zoomOut',
      'leaflet-control-layers-toggle': 'mapLayers',
      'leaflet-popup-close-button': 'closePopup'
    };
    function name(scope) {
      Object.keys(names).forEach(function (cls) {
        var nodes = scope.querySelectorAll('.' + cls);
        for (var i = 0; i < nodes.length; i++) {
          nodes[i].setAttribute('title', t(names[cls]));
          nodes[i].setAttribute('aria-label', t(names[cls]));
        }
      });
    }
    if (map.attributionControl) { map.attributionControl.setPrefix(false); }
    name(root);
    if (!map._yzLocalised) {
      map._yzLocalised = true;
      map.on('popupopen', function (e) {
        var node = e.popup && e.popup.getElement();
        if (node) { name(node); }
      });
    }
    return map;
  }

  /** A <span> holding `s` as text (for Leaflet tooltips, which take HTML strings or nodes). */
  function textNode(s) {
    var span = document.createElement('span');
    span.textContent = String(s);
    return span;
  }

  /** `value` escaped for an HTML attribute value in double quotes (or for text). */
  function escapeAttr(value) {
    return String(value).replace(/&/g, '&amp;').replace(/"/g, '&quot;')
      .replace(/</g, '&lt;').replace(/>/g, '&gt;');
  }

  /** `fn` called once, `ms` after the last of a burst of calls (with that call's arguments). */
  function debounce(fn, ms) {
    var timer = null;
    function debounced() {
      var self = this;
      var args = arguments;
      window.clearTimeout(timer);
      timer = window.setTimeout(function () { timer = null; fn.apply(self, args); }, ms);
    }
    debounced.cancel = function () { window.clearTimeout(timer); timer = null; };
    return debounced;
  }

  /** Fire a CustomEvent `name` with `detail` on document. */
  function dispatch(name, detail) {
    var ev;
    try {
      ev = new CustomEvent(name, { detail: detail });
    } catch (e) {
      ev = document.createEvent('CustomEvent');
      ev.initCustomEvent(name, false, false, detail);
    }
    document.dispatchEvent(ev);
  }

  /** Run `fn` once the document is parsed (now, if it already is). */
  function onReady(fn) {
    if (document.readyState === 'loading') {
      document.addEventListener('DOMContentLoaded', fn);
    } else {
      fn();
    }
  }

  /** Copy `text` with the async clipboard API: onDone() on success, else onFail(). */
  function writeClipboard(text, onDone, onFail) {
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(text).then(onDone, onFail);
    } else {
      onFail();
    }
  }

  /** scheme://host[:port] of an http(s) `url`, '' for anything else. */
  function originOf(url) {
    try {
      var u = new URL(url);
      return (u.protocol === 'http:' || u.protocol === 'https:') ? u.origin : '';
    } catch (e) {
      return '';
    }
  }

  /** `url` resolved against the page, null when empty or invalid. */
  function absoluteUrl(url) {
    if (url === undefined || url === null || url === '') { return null; }
    try { return new URL(String(url), window.location.href).href; } catch (e) { return null; }
  }

  Y.common = {
    readConfig: readConfig,
    getJSON: getJSON,
    errorText: errorText,
    apiUrl: apiUrl,
    isBlank: isBlank,
    el: el,
    dataEl: dataEl,
    datum: datum,
    setText: setText,
    localiseMap: localiseMap,
    textNode: textNode,
    escapeAttr: escapeAttr,
    debounce: debounce,
    dispatch: dispatch,
    onReady: onReady,
    writeClipboard: writeClipboard,
    originOf: originOf,
    absoluteUrl: absoluteUrl
  };
}(window.Yizhan = window.Yizhan || {}));
