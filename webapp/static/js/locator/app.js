/*
 * Yizhan locator: the Locator object — its state, its page elements, coordinates and messages.
 *
 * The locator is one object (window.YizhanLocator.app) whose methods live in focused files,
 * each adding to Locator.prototype:
 *   app.js      state, elements, WGS-84 <-> display coordinates, status/announce/error
 *   map.js      the Leaflet map, basemaps, outlines, /api/clusters markers and bubbles
 *   list.js     the list (paged stations in view), selection map <-> list
 *   search.js   choosing a point (address, geolocation, map pick), nearest by travel time
 *   filters.js  kind/service/open-now filters, language, share link and URL state
 *   main.js     wiring: init(), control events, boot
 * Needs i18n.js, common.js, crs.js (window.YizhanCRS, optional); exposes
 * window.Yizhan.locator.Locator.
 */
(function (Y) {
  'use strict';

  var t = Y.i18n.t;
  var el = Y.common.el;
  var F = Y.locator.format;

  var CRS = window.YizhanCRS || {
    wgs84ToGcj02: function (lon, lat) { return [lon, lat]; },
    gcj02ToWgs84: function (lon, lat) { return [lon, lat]; }
  };

  function Locator(cfg) {
    this.cfg = cfg;
    this.apiBase = cfg.apiBase || '/api';
    this.controls = Array.isArray(cfg.controls) ? cfg.controls :
      ['search', 'locate', 'filters', 'list', 'lang', 'basemaps'];
    this.kinds = {};               // code -> {zh, en}
    this.kindOrder = [];
    this.services = {};            // code -> {zh, en}
    this.serviceOrder = [];
    this.filter = {
      kinds: Array.isArray(cfg.kinds) ? cfg.kinds.slice() : [],
      services: Array.isArray(cfg.services) ? cfg.services.slice() : [],
      openNow: !!cfg.openNow
    };
    this.defaultMode = cfg.defaultMode || 'walk';   // the server's YIZHAN_DEFAULT_MODE
    this.mode = cfg.mode || this.defaultMode;
    this.point = null;             // {lat, lon, source: 'geo'|'pick'|'search', label}
    this.picking = false;
    this.selectedId = cfg.station ? String(cfg.station) : null;
    this.byId = {};                // id -> marker (stations drawn on the map)
    this.features = {};            // id -> last feature seen (map, list, nearest)
    this.cache = {};               // view key -> response
    this.cacheKeys = [];
    this.viewSeq = 0;
    this.listSeq = 0;
    this.listMode = 'view';        // 'view' | 'nearest'
    this.listOffset = 0;
    this.nearest = null;           // last nearest answer (for re-render)
    this.basemapId = cfg.basemap || null;
    this.crs = 'wgs84';
    this.viewTotal = null;
    this.ready = false;

    var $ = function (id) { return document.getElementById(id); };
    this.$ = {
      root: $('yz-locator'),
      lang: $('yz-lang'),
      search: $('yz-search'),
      q: $('yz-q'),
      locate: $('yz-locate'),
      pick: $('yz-pick'),
      kind: $('yz-kind'),
      mode: $('yz-mode'),
      openNow: $('yz-open-now'),
      servicesBox: $('yz-services'),
      count: $('yz-count'),
      statusText: $('yz-status-text'),
      announce: $('yz-announce'),
      error: $('yz-error'),
      resultsBox: $('yz-results-box'),
      resultsTitle: $('yz-results-title'),
      resultsNote: $('yz-results-note'),
      results: $('yz-results'),
      listView: $('yz-list-view'),
      pager: $('yz-pager'),
      prev: $('yz-prev'),
      next: $('yz-next'),
      pageText: $('yz-page-text'),
      share: $('yz-share'),
      shareBox: $('yz-share-box'),
      shareUrl: $('yz-share-url'),
      pickHint: $('yz-pick-hint'),
      wheelHint: $('yz-wheel-hint'),
      hint: $('yz-hint'),
      mapEl: $('yz-map')
    };
    this.hasList = this.controls.indexOf('list') >= 0 && this.$.results &&
      !(this.$.resultsBox && this.$.resultsBox.getAttribute('data-disabled') === 'true');
  }

  Locator.LIST_PAGE = 20;
  Locator.NEAREST_K = 20;
  Locator.DEBOUNCE_MS = 250;
  Locator.CACHE_MAX = 48;
  Locator.OFFLINE_MAX_ZOOM = 12;   // county outlines: past this a screen is one blank county
  Locator.OFFLINE_NOTE_ZOOM = 10;  // from here the offline basemap says how to get streets
  Locator.CRS = CRS;

  // ---- coordinates: the map draws in GCJ-02 when the Amap layer is active

  /** A WGS-84 position as a Leaflet LatLng in the active basemap's system. */
  Locator.prototype.disp = function (lat, lon) {
    if (this.crs === 'gcj02') {
      var g = CRS.wgs84ToGcj02(lon, lat);
      return L.latLng(g[1], g[0]);
    }
    return L.latLng(lat, lon);
  };

  /** A Leaflet LatLng of the map (active system) as WGS-84 {lat, lon}. */
  Locator.prototype.wgs = function (latlng) {
    if (this.crs === 'gcj02') {
      var w = CRS.gcj02ToWgs84(latlng.lng, latlng.lat);
      return { lat: w[1], lon: w[0] };
    }
    return { lat: latlng.lat, lon: latlng.lng };
  };

  Locator.prototype.stationHref = function (id) {
    var base = this.cfg.stationUrl || '/stations/__ID__';
    return base.replace('__ID__', encodeURIComponent(String(id)));
  };

  /**
   * "约 12 分钟 · <travel model>" for a nearest answer's minutes; null beyond the answer's
   * minutes cap (travel.minutes_cap: no time worth showing, the distance says it all).
   */
  Locator.prototype.travelText = function (minutes) {
    var cap = this.nearest && this.nearest.travel && this.nearest.travel.minutes_cap;
    if (typeof cap === 'number' && minutes > cap) { return null; }
    var label = (this.nearest && this.nearest.travel) || null;
    var modeWord = Y.i18n.has('modeWord.' + this.mode) ? t('modeWord.' + this.mode) : '';
    var model = label ? (Y.i18n.lang() === 'en' ? label.label_en : label.label_zh) : '';
    if (!model) { model = modeWord + t('sep') + t('crowfly'); }   // the API names the model
    return F.formatMinutes(minutes) + ' · ' + model;
  };

  // ---- messages

  /**
   * The status line's text. With `keep`, the text is the answer to the user's question (the
   * nearest results' summary) and comes back when a transient message (a map load) ends.
   */
  Locator.prototype.status = function (text, keep) {
    if (keep) { this.keptStatus = text; }
    if (!text && this.listMode === 'nearest' && this.nearest) { text = this.keptStatus || ''; }
    if (this.$.statusText) { Y.common.setText(this.$.statusText, text ? ' · ' + text : ''); }
  };

  Locator.prototype.announce = function (text) {
    if (this.$.announce) { Y.common.setText(this.$.announce, text || ''); }
  };

  /**
   * Show (or with no text hide) the one message box. `source` names what showed it ('view' for
   * a failed map load); a later success of that source clears only its own message
   * (clearError), so a reloading map never hides a geolocation or search message.
   */
  Locator.prototype.showError = function (text, source) {
    var box = this.$.error;
    if (!box) { return; }
    this.errorSource = text ? (source || 'other') : null;
    box.textContent = '';
    if (!text) { box.hidden = true; return; }
    box.appendChild(el('span', 'yz-error-text', text));
    var close = el('button', 'yz-error-close', '×');
    close.type = 'button';
    close.setAttribute('aria-label', t('closeMsg'));
    close.addEventListener('click', function () { box.hidden = true; box.textContent = ''; });
    box.appendChild(close);
    box.hidden = false;
  };

  /**
   * showError("<what>: <reason>") for a failed request (`what` already translated); the
   * reason comes from the catalogue by the API's error code (common.errorText), never the
   * server's English message.
   */
  Locator.prototype.showFailure = function (what, err, source) {
    this.showError(t('withReason', { what: what, reason: Y.common.errorText(err) }), source);
  };

  /** Hide the message if `source` showed it. */
  Locator.prototype.clearError = function (source) {
    if (this.errorSource === source) { this.showError(''); }
  };

  Y.locator.Locator = Locator;
}(window.Yizhan = window.Yizhan || {}));
