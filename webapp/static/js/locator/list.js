/*
 * Yizhan locator: the list — the accessible alternative to the map. Every station in the view,
 * paged (/api/stations?bbox=), and selection kept in sync between map and list (popup,
 * highlighted marker, aria-current entry, yizhan:select event).
 * Adds methods to window.Yizhan.locator.Locator.prototype (see locator/app.js).
 */
(function (Y) {
  'use strict';

  var t = Y.i18n.t;
  var C = Y.common;
  var el = C.el;
  var F = Y.locator.format;
  var Locator = Y.locator.Locator;
  var P = Locator.prototype;
  var LIST_PAGE = Locator.LIST_PAGE;

  // ---- selection: map <-> list

  /** Select a station (from the map, the list or a share link): popup, highlight, events. */
  P.select = function (id, source) {
    var self = this;
    id = String(id);
    var f = this.features[id];
    if (!f) { return; }
    var p = f.properties || {};
    var c = f.geometry.coordinates;
    this.selectedId = id;
    var ranked = this.rankMarkers && this.rankMarkers[id];   // numbered, never clustered
    var marker = ranked || this.byId[id];
    if (!marker) {      // not drawn (e.g. a cluster at this zoom): draw it, pinned
      marker = this.makeMarker(f);
      this.byId[id] = marker;
      this.cluster.addLayer(marker);
    }
    if (!ranked) { this.pinnedId = id; }
    marker.feature = f;
    this.markSelectedMarker();
    this.markCurrent(id, source !== 'list');
    var name = F.stationName(p);
    this.announce(t('selected', { name: C.datum(name) }));
    this.updateUrl();
    C.dispatch('yizhan:select', {
      id: id, name: name, kind: p.kind, lon: c[0], lat: c[1],
      url: new URL(this.stationHref(id), window.location.href).href
    });
    var done = false;
    function open() {
      if (done) { return; }
      done = true;
      self.map.closePopup();
      L.popup(L.extend(self.popupOptions(), { offset: [0, -3] }))
        .setLatLng(marker.getLatLng())
        .setContent(Y.locator.buildPopup(f, self))
        .openOn(self.map);
      self.markCurrent(id, false);
      self.markSelectedMarker();
    }
    if (source === 'map') { open(); return; }
    function show() {
      if (ranked) { open(); return; }   // the popup pans it into view
      self.cluster.zoomToShowLayer(marker, open);
      window.setTimeout(open, 1500);   // zoomToShowLayer can miss its callback
    }
    if (this.moving) { this.map.once('moveend', show); } else { show(); }
  };

  /** Select the station of a share link (?station=) once its feature is fetched. */
  P.restoreSelection = function (id) {
    var self = this;
    C.getJSON(C.apiUrl(this.apiBase, '/stations/' + encodeURIComponent(id))).then(function (f) {
      if (!f || !f.geometry) { return; }
      self.features[String(f.properties.id)] = f;
      self.select(String(f.properties.id), 'link');
    }).catch(function () { self.selectedId = null; self.updateUrl(); });
  };

  /** Highlight the list entry of ``id`` (and scroll it into view when selected on the map). */
  P.markCurrent = function (id, scroll) {
    if (!this.$.results) { return; }
    if (id === null) { id = undefined; }
    var items = this.$.results.querySelectorAll('li[data-station-id]');
    for (var i = 0; i < items.length; i++) {
      var on = id !== undefined && items[i].getAttribute('data-station-id') === id;
      items[i].classList.toggle('yz-result--current', on);
      var b = items[i].querySelector('button');
      if (on) {
        b.setAttribute('aria-current', 'true');
        if (scroll && items[i].scrollIntoView) { items[i].scrollIntoView({ block: 'nearest' }); }
      } else {
        b.removeAttribute('aria-current');
      }
    }
  };

  // ---- the sheet: the list over the map's foot on phones (collapsed to a handle)

  /** True when the page uses the phone layout (the list is a sheet over the map). */
  P.isPhone = function () {
    return !!(window.matchMedia && window.matchMedia('(max-width: 767.98px)').matches);
  };

  P.initSheet = function () {
    var self = this;
    this.$.sheetToggle = document.getElementById('yz-sheet-toggle');
    this.$.sheetText = document.getElementById('yz-sheet-text');
    if (!this.$.sheetToggle) { return; }
    this.$.sheetToggle.addEventListener('click', function () {
      self.setSheet(self.$.resultsBox.getAttribute('data-sheet') !== 'expanded');
    });
    this.renderSheet();
  };

  /** Expand (true) or collapse (false) the sheet; the map is not resized by it. */
  P.setSheet = function (open) {
    if (!this.$.sheetToggle || !this.$.resultsBox) { return; }
    this.$.resultsBox.setAttribute('data-sheet', open ? 'expanded' : 'collapsed');
    this.$.sheetToggle.setAttribute('aria-expanded', open ? 'true' : 'false');
    this.renderSheet();
  };

  /** The handle's text: what the list holds (count) and what a tap does. */
  P.renderSheet = function () {
    if (!this.$.sheetText) { return; }
    var info = this.countInfo();   // the same count as the status line (map.js)
    var what = info ? info.text : t('sheetList');
    var open = this.$.resultsBox.getAttribute('data-sheet') === 'expanded';
    this.$.sheetText.textContent = t(open ? 'sheetHide' : 'sheetShow', { what: what });
  };

  // ---- the list: stations in view (paged)

  P.loadList = function (offset) {
    var self = this;
    if (!this.hasList) { return; }
    this.listMode = 'view';
    offset = Math.max(0, offset || 0);
    var params = this.filterParams();
    var bbox = this.exactBbox();
    params.bbox = bbox;
    params.limit = LIST_PAGE;
    params.offset = offset;
    var url = C.apiUrl(this.apiBase, '/stations', params);
    if (this.listData && this.listUrl === url) { return; }   // this page is already shown
    var seq = ++this.listSeq;
    if (this.listAbort) { this.listAbort.abort(); }
    var ctrl = typeof AbortController === 'function' ? new AbortController() : null;
    this.listAbort = ctrl;
    C.getJSON(url, { signal: ctrl && ctrl.signal })
      .then(function (fc) {
        if (seq !== self.listSeq || self.listMode !== 'view') { return; }
        var feats = Array.isArray(fc.features) ? fc.features : [];
        self.listOffset = offset;
        self.listUrl = url;
        self.listData = { feats: feats, total: fc.numberMatched, offset: offset, bbox: bbox };
        self.renderList();
      }).catch(function (err) {
        if (err && err.name === 'AbortError') { return; }
        if (seq === self.listSeq) { self.showFailure(t('loadFailed'), err); }
      });
  };

  /** Draw the list again (language or taxonomy changed): the view page or the nearest. */
  P.rerenderList = function () {
    if (!this.hasList) { return; }
    if (this.listMode === 'nearest' && this.nearest) {
      this.renderNearest(this.nearest.feats, this.nearest.point);
    } else if (this.listData) {
      this.renderList();
    }
  };

  P.renderList = function () {
    var d = this.listData;
    var self = this;
    this.$.resultsTitle.textContent = t('resultsTitleView');
    if (this.$.listView) { this.$.listView.hidden = true; }
    this.$.results.textContent = '';
    var total = typeof d.total === 'number' ? d.total : d.feats.length;
    this.$.resultsNote.textContent = total ? '' : t('emptyView');
    this.$.resultsBox.hidden = false;
    d.feats.forEach(function (f, i) {
      if (!f || !f.properties || !f.geometry) { return; }
      self.features[String(f.properties.id)] = f;
      self.$.results.appendChild(self.resultItem(f, d.offset + i + 1, null));
    });
    if (this.$.pager) {
      this.$.pager.hidden = total <= LIST_PAGE;
      this.$.prev.disabled = d.offset <= 0;
      this.$.next.disabled = d.offset + LIST_PAGE >= total;
      this.$.pageText.textContent = total ? t('page', {
        from: d.offset + 1, to: Math.min(total, d.offset + d.feats.length), total: total
      }) : '';
    }
    this.markCurrent(this.selectedId, false);
    this.renderCount();   // the list's total for this view: the status says the same
    this.renderSheet();
    this.drawRanks();   // the view's list is not ranked: no numbered markers
  };

  /** One list entry: a button that selects the station (map and list stay in sync). */
  P.resultItem = function (f, rank, extra) {
    var self = this;
    var p = f.properties || {};
    var id = String(p.id);
    var li = el('li', 'yz-result');
    li.setAttribute('data-station-id', id);
    if (typeof p.distance_m === 'number') { li.setAttribute('data-distance-m', String(p.distance_m)); }
    if (typeof p.minutes === 'number') { li.setAttribute('data-minutes', String(p.minutes)); }
    var btn = el('button', 'yz-result-btn');
    btn.type = 'button';
    var name = F.stationName(p);
    var kind = F.kindLabel(p, this.kinds);
    btn.appendChild(el('span', 'yz-result-rank', String(rank)));
    var body = el('span', 'yz-result-body');
    body.appendChild(C.dataEl('span', 'yz-result-name', name));
    var meta = el('span', 'yz-result-meta');
    meta.appendChild(el('span', 'yz-result-kind', kind));
    if (p.open_now === true || p.open_now === false) {
      meta.appendChild(el('span', 'yz-open yz-open--' + (p.open_now ? 'yes' : 'no'),
        p.open_now ? t('openNow') : t('closedNow')));
    }
    body.appendChild(meta);
    if (extra) { body.appendChild(el('span', 'yz-result-travel', extra)); }
    btn.appendChild(body);
    var dist = typeof p.distance_m === 'number' ? F.formatDistance(p.distance_m) : '';
    var sep = t('sep');
    if (dist) {
      var d = el('span', 'yz-result-distance');
      d.appendChild(el('span', 'yz-visually-hidden', sep + t('distance') + ' '));
      d.appendChild(document.createTextNode(dist));
      btn.appendChild(d);
    }
    // The button's name is its text (the station's name stays data, marked translate="no").
    btn.appendChild(el('span', 'yz-visually-hidden', sep + t('showOnMap')));
    btn.addEventListener('click', function () {
      if (self.isPhone()) { self.setSheet(false); }   // show the station on the map
      self.select(id, 'list');
    });
    li.appendChild(btn);
    return li;
  };
}(window.Yizhan = window.Yizhan || {}));
