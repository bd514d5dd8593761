/*
 * Yizhan public locator: map of union service stations, list, nearest by travel time.
 *
 * This file wires the Locator (locator/app.js and the files that extend it) to the page and
 * starts it. No framework, no build step, no inline handlers (CSP script-src 'self').
 * Configuration comes from the JSON block #yz-config rendered by webapp/templates/_locator.html
 * (webapp/public.py locator_config). Every string from the API is put into the page with
 * textContent / setAttribute, never innerHTML, so station names and addresses stay text.
 *
 * Data per view: GET /api/clusters?bbox=&zoom=&kind=&service=&open_now= (map.js); the list of
 * the stations in view, paged, /api/stations?bbox= (list.js), or the nearest by travel time,
 * /api/nearest?mode= (search.js).
 *
 * Events on document: yizhan:ready {lang, embed}, yizhan:select {id, name, kind, lon, lat, url},
 * yizhan:results {count}. window.YizhanLocator = {formatDistance, formatMinutes, crs, app}.
 *
 * Scripts, in this order (classic scripts sharing window.Yizhan): leaflet, markercluster,
 * crs.js, i18n.js, common.js, locator/format.js, popup.js, app.js, map.js, list.js,
 * search.js, filters.js, main.js.
 */
(function (Y) {
  'use strict';

  var t = Y.i18n.t;
  var C = Y.common;
  var Locator = Y.locator.Locator;
  var P = Locator.prototype;
  var LIST_PAGE = Locator.LIST_PAGE;

  P.init = function () {
    var cfg = this.cfg;
    Y.i18n.setLang(cfg.lang === 'en' ? 'en' : 'zh');
    this.initMap();
    this.bindControls();
    this.applyLang();
    this.refreshMapTexts();
    this.initSheet();
    var legend = document.getElementById('yz-legend');
    if (legend && !this.isPhone()) { legend.open = true; }   // collapsed on phones
    this.loadOutlines();
    this.loadTaxonomy();
    this.loadView();
    if (this.hasList) { this.loadList(0); }
    if (this.selectedId) { this.restoreSelection(this.selectedId); }
    this.ready = true;
    C.dispatch('yizhan:ready', { lang: Y.i18n.lang(), embed: !!cfg.embed });
  };

  /** The page's controls: language, search, locate, pick, filters, list paging, share. */
  P.bindControls = function () {
    var self = this;
    var $ = this.$;
    if ($.lang) {
      $.lang.addEventListener('click', function () {
        self.setLang(Y.i18n.lang() === 'zh' ? 'en' : 'zh');
      });
    }
    if ($.search) {
      $.search.addEventListener('submit', function (e) { e.preventDefault(); self.geocode(); });
    }
    if ($.locate) { $.locate.addEventListener('click', function () { self.locate(); }); }
    if ($.pick) { $.pick.addEventListener('click', function () { self.setPicking(!self.picking); }); }
    if ($.kind) {
      if (this.filter.kinds.length === 1) { $.kind.setAttribute('data-initial', this.filter.kinds[0]); }
      $.kind.addEventListener('change', function () {
        self.filter.kinds = $.kind.value ? [$.kind.value] : [];
        self.filtersChanged();
      });
    }
    if ($.mode) {
      $.mode.value = this.mode;
      $.mode.addEventListener('change', function () {
        self.mode = $.mode.value || self.defaultMode;
        self.updateUrl();
        if (self.point) { self.searchNearest(self.point); }
      });
    }
    if ($.openNow) {
      $.openNow.checked = this.filter.openNow;
      $.openNow.addEventListener('change', function () {
        self.filter.openNow = $.openNow.checked;
        self.filtersChanged();
      });
    }
    if ($.listView) {
      $.listView.addEventListener('click', function () {
        self.listMode = 'view';
        self.loadList(0);
      });
    }
    if ($.prev) { $.prev.addEventListener('click', function () { self.loadList(self.listOffset - LIST_PAGE); }); }
    if ($.next) { $.next.addEventListener('click', function () { self.loadList(self.listOffset + LIST_PAGE); }); }
    if ($.share) { $.share.addEventListener('click', function () { self.share(); }); }
  };

  function boot() {
    window.YizhanLocator = {
      formatDistance: Y.locator.format.formatDistance,
      formatMinutes: Y.locator.format.formatMinutes,
      crs: Locator.CRS
    };
    var cfg = C.readConfig();
    Y.i18n.setLang(cfg.lang === 'en' ? 'en' : 'zh');
    if (typeof L === 'undefined' || !L.markerClusterGroup) {
      var box = document.getElementById('yz-error');
      if (box) { box.textContent = t('mapFailed'); box.hidden = false; }
      return;
    }
    var app = new Locator(cfg);
    window.YizhanLocator.app = app;
    app.init();
  }

  C.onReady(boot);
}(window.Yizhan = window.Yizhan || {}));
