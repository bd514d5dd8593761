/*
 * Yizhan locator: what the user asks for and how it is kept — the kind / service / open-now
 * filters (taxonomy from /api/kinds and /api/services), the page language, and the share
 * link (the same state in the address bar, via history.replaceState).
 * Adds methods to window.Yizhan.locator.Locator.prototype (see locator/app.js).
 */
(function (Y) {
  'use strict';

  var t = Y.i18n.t;
  var C = Y.common;
  var el = C.el;
  var isBlank = C.isBlank;
  var P = Y.locator.Locator.prototype;

  function isEn() { return Y.i18n.lang() === 'en'; }

  // ---- filters

  /** The filter part of every station query: kind, service, open_now. */
  P.filterParams = function () {
    return {
      kind: this.filter.kinds,
      service: this.filter.services,
      open_now: this.filter.openNow
    };
  };

  P.filtersChanged = function () {
    this.map.closePopup();
    this.updateUrl();
    this.loadView();
    if (this.listMode === 'nearest' && this.point) {
      this.searchNearest(this.point);
    } else if (this.hasList) {
      this.loadList(0);
    }
  };

  P.loadTaxonomy = function () {
    var self = this;
    var wantKinds = this.$.kind;
    var wantServices = this.$.servicesBox;
    C.getJSON(C.apiUrl(this.apiBase, '/kinds')).then(function (kinds) {
      if (!Array.isArray(kinds)) { throw new Error(t('badData')); }
      kinds.forEach(function (k) {
        if (!k || isBlank(k.code)) { return; }
        self.kinds[k.code] = { zh: k.zh || k.code, en: k.en || k.zh || k.code };
        self.kindOrder.push(k.code);
      });
      if (wantKinds) { self.renderKinds(); }
      self.renderLegend();
      self.rerenderList();
    }).catch(function (err) {
      if (wantKinds) {
        wantKinds.disabled = true;
        self.showFailure(t('kindsFailed'), err);
      }
    });
    C.getJSON(C.apiUrl(this.apiBase, '/services')).then(function (services) {
      if (!Array.isArray(services)) { return; }
      services.forEach(function (s) {
        if (!s || isBlank(s.code)) { return; }
        self.services[s.code] = { zh: s.zh || s.code, en: s.en || s.zh || s.code };
        self.serviceOrder.push(s.code);
      });
      if (wantServices) { self.renderServices(); }
    }).catch(function () { /* the service filter stays empty */ });
  };

  P.renderTaxonomy = function () {
    if (this.$.kind) { this.renderKinds(); }
    if (this.$.servicesBox) { this.renderServices(); }
    this.renderLegend();
  };

  P.renderKinds = function () {
    var self = this;
    var sel = this.$.kind;
    sel.textContent = '';
    var all = el('option', null, t('allKinds'));
    all.value = '';
    sel.appendChild(all);
    this.kindOrder.forEach(function (code) {
      var opt = el('option', null, isEn() ? self.kinds[code].en : self.kinds[code].zh);
      opt.value = code;
      sel.appendChild(opt);
    });
    sel.value = this.filter.kinds.length === 1 ? this.filter.kinds[0] : '';
  };

  P.renderServices = function () {
    var self = this;
    var box = this.$.servicesBox;
    box.textContent = '';
    this.serviceOrder.forEach(function (code) {
      var label = el('label', 'yz-check');
      var input = document.createElement('input');
      input.type = 'checkbox';
      input.value = code;
      input.name = 'service';
      input.checked = self.filter.services.indexOf(code) >= 0;
      input.addEventListener('change', function () {
        var i = self.filter.services.indexOf(code);
        if (input.checked && i < 0) { self.filter.services.push(code); }
        if (!input.checked && i >= 0) { self.filter.services.splice(i, 1); }
        self.filtersChanged();
      });
      label.appendChild(input);
      label.appendChild(el('span', null, isEn() ? self.services[code].en : self.services[code].zh));
      box.appendChild(label);
    });
  };

  // ---- language

  P.setLang = function (lang) {
    var layer = this.basemapLayers && this.basemapLayers[this.basemapId];
    var before = layer && layer.getAttribution ? layer.getAttribution() : undefined;
    Y.i18n.setLang(lang);
    this.applyLang();
    this.refreshMapTexts(before);
    this.renderTaxonomy();
    this.rerenderList();
    this.renderCount();
    this.map.closePopup();
    this.updateUrl();
  };

  /** Put the current language's strings into every [data-i18n*] element; set <html lang>. */
  P.applyLang = function () {
    document.documentElement.setAttribute('lang', isEn() ? 'en' : 'zh-CN');
    Y.i18n.apply(document);
    if (this.$.lang) { this.$.lang.setAttribute('lang', isEn() ? 'zh-CN' : 'en'); }
  };

  // ---- share link

  P.shareUrl = function () {
    var c = this.wgs(this.map.getCenter());
    var params = [];
    function add(k, v) { params.push(encodeURIComponent(k) + '=' + encodeURIComponent(v)); }
    if (isEn()) { add('lang', 'en'); }
    add('lat', c.lat.toFixed(5));
    add('lon', c.lon.toFixed(5));
    add('zoom', String(this.map.getZoom()));
    if (this.filter.kinds.length) { add('kind', this.filter.kinds.join(',')); }
    if (this.filter.services.length) { add('service', this.filter.services.join(',')); }
    if (this.filter.openNow) { add('open_now', '1'); }
    if (this.mode !== this.defaultMode) { add('mode', this.mode); }
    if (this.selectedId) { add('station', this.selectedId); }
    var defs = this.cfg.basemaps || [];
    if (defs.length && this.basemapId !== defs[0].id) { add('basemap', this.basemapId); }
    var base = this.cfg.locatorUrl || '/';
    return new URL(base + '?' + params.join('&'), window.location.href).href;
  };

  /** Keep the address bar (and an open share box) on the current state; not in the embed. */
  P.updateUrl = function () {
    if (this.cfg.embed || !this.ready || !window.history || !window.history.replaceState) { return; }
    try {
      window.history.replaceState(null, '', this.shareUrl());
    } catch (e) { /* a sandboxed page may refuse */ }
    if (this.$.shareUrl && this.$.shareBox && !this.$.shareBox.hidden) {
      this.$.shareUrl.value = this.shareUrl();
    }
  };

  P.share = function () {
    var self = this;
    var url = this.shareUrl();
    if (this.$.shareBox) {
      this.$.shareBox.hidden = false;
      this.$.shareUrl.value = url;
    }
    C.writeClipboard(url, function () {
      self.status(t('shareCopied'));
      self.announce(t('shareCopied'));
    }, function () {
      if (self.$.shareUrl) { self.$.shareUrl.focus(); self.$.shareUrl.select(); }
      self.status(t('shareManual'));
    });
  };
}(window.Yizhan = window.Yizhan || {}));
