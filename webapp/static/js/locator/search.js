/*
 * Yizhan locator: choosing a point — address search (/api/geocode), the browser's geolocation,
 * a click (or Enter) on the map — and the stations nearest to it by travel time
 * (/api/nearest?mode=), shown in the list and framed on the map.
 * Adds methods to window.Yizhan.locator.Locator.prototype (see locator/app.js).
 */
(function (Y) {
  'use strict';

  var t = Y.i18n.t;
  var has = Y.i18n.has;
  var C = Y.common;
  var F = Y.locator.format;
  var Locator = Y.locator.Locator;
  var P = Locator.prototype;

  // ---- choosing a point

  P.setPicking = function (on) {
    this.picking = !!on;
    if (this.$.pick) {
      this.$.pick.setAttribute('aria-pressed', on ? 'true' : 'false');
      this.$.pick.classList.toggle('yz-btn--active', this.picking);
    }
    this.$.mapEl.classList.toggle('yz-map--picking', this.picking);
    if (this.$.pickHint) { this.$.pickHint.hidden = !this.picking; }
    this.status(this.picking ? t('pickHint') : '');
    if (this.picking) { this.$.mapEl.focus({ preventScroll: true }); }
  };

  P.onMapClick = function (e) {
    if (!this.picking) { return; }
    this.setPicking(false);
    var w = this.wgs(e.latlng);          // the API speaks WGS-84, whatever the basemap
    this.choosePoint(w.lat, w.lon, 'pick');
  };

  P.onMapKey = function (e) {
    if (!this.picking || e.target !== this.$.mapEl) { return; }
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      var w = this.wgs(this.map.getCenter());
      this.setPicking(false);
      this.choosePoint(w.lat, w.lon, 'pick');
    }
  };

  P.locate = function () {
    var self = this;
    if (this.picking) { this.setPicking(false); }
    if (!('geolocation' in navigator)) {
      this.showError(window.isSecureContext === false ? t('geoInsecure') : t('geoUnsupported'));
      return;
    }
    this.showError('');
    this.status(t('locating'));
    this.$.locate.disabled = true;
    navigator.geolocation.getCurrentPosition(function (pos) {
      self.$.locate.disabled = false;
      self.choosePoint(pos.coords.latitude, pos.coords.longitude, 'geo', pos.coords.accuracy);
    }, function (err) {
      self.$.locate.disabled = false;
      self.status('');
      var msg = t('geoUnavailable');
      if (err && err.code === 1) {
        msg = window.isSecureContext === false ? t('geoInsecure') : t('geoDenied');
      } else if (err && err.code === 3) {
        msg = t('geoTimeout');
      }
      self.showError(msg);
    }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
  };

  P.geocode = function () {
    var self = this;
    var q = (this.$.q.value || '').trim();
    if (!q) { this.showError(t('searchEmpty')); this.$.q.focus(); return; }
    this.showError('');
    this.status(t('geocoding'));
    C.getJSON(C.apiUrl(this.apiBase, '/geocode', { q: q })).then(function (r) {
      if (!r || !isFinite(r.lon) || !isFinite(r.lat)) {
        var bad = new Error(t('badData'));
        bad.localised = true;
        throw bad;
      }
      var found = self.searchOutcome(r, q);
      self.status(found.status);
      self.choosePoint(r.lat, r.lon, 'search', null,
        { label: found.label, note: found.note, partial: found.partial });
    }).catch(function (err) {
      // A failed search answers the question asked: the previous results go, and the
      // message (in the page language, by the API's error code) says why.
      self.status('');
      self.clearResults();
      if (err.status === 429) {
        self.showError(C.errorText(err));   // "too many searches, try again in 30 s"
      } else {
        self.showFailure(t('searchNotFound'), err);
      }
    });
  };

  /**
   * What a geocode answer `r` for the text `q` tells the user: {status, note, label}.
   * A partial answer (only an admin unit of the text was recognised: "柳州火车站" placed at
   * 柳州市) says so and names what was recognised; it never reads as "found".
   */
  P.searchOutcome = function (r, q) {
    var name = r.formatted || q;
    if (r.partial) {
      var unit = r.recognised || name;
      var note = t('searchPartial', { unit: C.datum(unit), rest: C.datum(r.rest || q) });
      return { status: note, note: note, label: unit, partial: true };
    }
    var pnote = has('precisionNote.' + r.precision) ? t('precisionNote.' + r.precision) :
      t('precisionNote.unknown');
    return {
      status: pnote ? t('searchFound', { name: C.datum(name), note: pnote }) :
        t('searchFoundPlain', { name: C.datum(name) }),
      note: pnote,
      label: name
    };
  };

  /**
   * Forget the chosen point and the nearest results (numbered markers, list) after a failed
   * search: the list goes back to the stations in view, so nothing on screen answers a
   * question that was not asked (the message box says what went wrong).
   */
  P.clearResults = function () {
    this.point = null;
    this.nearest = null;
    this.listSeq++;              // a nearest answer still on its way is stale now
    this.listMode = 'view';
    if (this.pointLayer) { this.pointLayer.clearLayers(); }
    if (this.hasList) {
      this.listData = null;
      this.listUrl = null;
      this.$.results.textContent = '';
      this.$.resultsNote.textContent = '';
      this.$.resultsTitle.textContent = t('resultsTitleView');
      this.loadList(0);
    }
    this.drawRanks();
    this.renderCount();
    this.renderSheet();
  };

  P.choosePoint = function (lat, lon, source, accuracy, extra) {
    this.point = { lat: lat, lon: lon, source: source, accuracy: accuracy,
      label: extra && extra.label, note: extra && extra.note, partial: !!(extra && extra.partial) };
    this.drawPoint();
    this.searchNearest(this.point);
  };

  /** The chosen point on the map (with its accuracy circle), in the active basemap's system. */
  P.drawPoint = function () {
    this.pointLayer.clearLayers();
    var pt = this.point;
    if (!pt) { return; }
    var label = pt.source === 'geo' ? t('myLocation') :
      (pt.source === 'search' ? (pt.label || t('searchedLocation')) : t('pickedLocation'));
    var at = this.disp(pt.lat, pt.lon);
    if (typeof pt.accuracy === 'number' && pt.accuracy > 30 && pt.accuracy < 5000) {
      L.circle(at, {
        radius: pt.accuracy, interactive: false, className: 'yz-accuracy',
        color: '#1565c0', weight: 1, fillOpacity: 0.08
      }).addTo(this.pointLayer);
    }
    L.circleMarker(at, {
      radius: 9, className: 'yz-point', color: '#ffffff', weight: 3,
      fillColor: '#1565c0', fillOpacity: 1
    }).bindTooltip(pt.source === 'search' && pt.label ? C.dataEl('span', null, label) : label,
      { direction: 'top', offset: [0, -8] }).addTo(this.pointLayer);
  };

  // ---- nearest by travel time

  P.searchNearest = function (point) {
    var self = this;
    var seq = ++this.listSeq;
    this.listMode = 'nearest';
    this.showError('');
    this.status(t('searching'));
    if (this.$.results) { this.$.results.setAttribute('aria-busy', 'true'); }
    var params = this.filterParams();
    params.lon = point.lon.toFixed(6);
    params.lat = point.lat.toFixed(6);
    params.k = this.hasList ? Locator.NEAREST_K : 5;
    params.mode = this.mode;
    // A demand signal (issue 15 item 8), once per chosen point: a search or "use my location"
    // (a map pick is not counted); the server keeps only its H3 cell and day.
    var origin = { search: 'search', geo: 'locate' }[point.source];
    if (origin && !point.counted) { params.origin = origin; point.counted = true; }
    C.getJSON(C.apiUrl(this.apiBase, '/nearest', params)).then(function (fc) {
      if (seq !== self.listSeq) { return; }
      var feats = (fc && Array.isArray(fc.features)) ? fc.features : [];
      self.nearest = { feats: feats, point: point, travel: fc.travel || null };
      self.renderNearest(feats, point, true);
    }).catch(function (err) {
      if (seq !== self.listSeq) { return; }
      self.status('');
      self.showFailure(t('nearestFailed'), err);
    }).then(function () {
      if (seq === self.listSeq && self.$.results) { self.$.results.removeAttribute('aria-busy'); }
    });
  };

  /**
   * Whether the nearest answer serves the point, as words: '' when the nearest station is
   * within the one-hour service circle (travel.service_minutes); else "the nearest station is
   * 807 km away, no station serves this place" (with its time when that is within the
   * minutes cap, travel.minutes_cap; beyond it only the distance means anything).
   */
  P.reachNote = function (feats) {
    var travel = (this.nearest && this.nearest.travel) || {};
    var p = (feats[0] && feats[0].properties) || {};
    var circle = travel.service_minutes;
    if (typeof p.minutes !== 'number' || typeof circle !== 'number' || p.minutes <= circle) {
      return '';
    }
    var dist = F.formatDistance(p.distance_m);
    if (this.travelText(p.minutes) === null) { return t('farAway', { dist: dist }); }
    return t('beyondCircle', { dist: dist, time: F.formatMinutes(p.minutes) });
  };

  /** The nearest stations in the list (when shown) and, with `fit`, framed on the map. */
  P.renderNearest = function (feats, point, fit) {
    var self = this;
    var timed = feats.length && typeof (feats[0].properties || {}).minutes === 'number';
    var reach = feats.length ? this.reachNote(feats) : '';
    feats.forEach(function (f) {
      if (f && f.properties && f.geometry) { self.features[String(f.properties.id)] = f; }
    });
    if (this.hasList) {
      var list = this.$.results;
      this.listUrl = null;   // the list no longer shows the view's page
      list.textContent = '';
      this.$.resultsTitle.textContent = point.source === 'geo' ? t('resultsTitleMine') :
        (point.source === 'search' ? t('resultsTitleSearch') : t('resultsTitlePicked'));
      var note = feats.length ? (timed ? t('travelNote') : t('distanceNote')) : t('none');
      if (reach) { note = t('noteThen', { first: reach, then: note }); }
      if (point.note) { note = t('noteThen', { first: point.note, then: note }); }
      C.setText(this.$.resultsNote, note);   // the recognised place stays data
      this.$.resultsBox.hidden = false;
      if (this.$.listView) { this.$.listView.hidden = false; }
      if (this.$.pager) { this.$.pager.hidden = true; }
      if (this.$.hint) { this.$.hint.hidden = true; }
      feats.forEach(function (f, i) {
        if (!f.geometry) { return; }
        var p = f.properties || {};
        var extra = typeof p.minutes === 'number' ? self.travelText(p.minutes) : null;
        list.appendChild(self.resultItem(f, i + 1, extra));
      });
      this.markCurrent(this.selectedId, false);
    }
    // The answer's headline stays on the status line (status keep): no station serves the
    // place; or only part of the address was recognised; or how many were found.
    var found = feats.length ? t('found', { n: feats.length }) : t('none');
    this.status(reach || (point.partial ? t('noteThen', { first: point.note, then: found }) :
      found), true);
    this.renderCount();
    this.renderSheet();
    this.drawRanks();
    if (fit) { this.frameNearest(feats, point); }
  };

  /** Show a new nearest answer: the sheet on phones, the point and the top five framed. */
  P.frameNearest = function (feats, point) {
    var self = this;
    if (this.hasList && this.isPhone()) { this.setSheet(true); }   // a new answer: show it
    this.onResize();   // the sheet may have changed the map; keeps the view otherwise
    var top = feats.slice(0, 5);
    if (top.length) {
      var b5 = L.latLngBounds([this.disp(point.lat, point.lon)]);
      top.forEach(function (f) {
        var c = f.geometry && f.geometry.coordinates;
        if (Array.isArray(c)) { b5.extend(self.disp(c[1], c[0])); }
      });
      var sheet = this.isPhone() && this.$.resultsBox &&
        this.$.resultsBox.getAttribute('data-sheet') === 'expanded' ? this.$.resultsBox.offsetHeight : 0;
      this.map.fitBounds(b5, { paddingTopLeft: [40, 40], paddingBottomRight: [40, 40 + sheet],
        maxZoom: 15 });
    } else {
      this.map.setView(this.disp(point.lat, point.lon), Math.max(this.map.getZoom(), 12));
    }
    C.dispatch('yizhan:results', { count: feats.length });
  };
}(window.Yizhan = window.Yizhan || {}));
